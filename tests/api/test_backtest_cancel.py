"""Cancelling a backtest: a queued one never starts, a running one stores no result; 409 once
it has ended; the owner's alone (404 for anyone else, 403 for a viewer)."""

from __future__ import annotations

import asyncio
import time

import httpx

from backend.app.container import AppContainer
from backend.models.enums import BacktestStatus, UserRole
from backend.services.backtest.synthetic import random_walk_bars
from tests.api.conftest import MakeAccount
from tests.api.test_backtests import backtest_row, post_backtest, to_csv


async def test_a_queued_backtest_is_cancelled_once_and_only_by_its_owner(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    trader, other = await make_account(), await make_account()
    viewer = await make_account(role=UserRole.VIEWER)
    async with container.database.session() as session:
        queued = backtest_row(trader.id, BacktestStatus.QUEUED)
        session.add(queued)
    path = f"/api/v1/backtests/{queued.id}/cancel"
    assert (await client.post(path, headers=other.headers)).status_code == 404
    assert (await client.post(path, headers=viewer.headers)).status_code == 403
    cancelled = await client.post(path, headers=trader.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    read = await client.get(f"/api/v1/backtests/{queued.id}", headers=trader.headers)
    assert read.json()["status"] == "cancelled"
    again = await client.post(path, headers=trader.headers)
    assert again.status_code == 409
    assert again.json()["error"] == "backtest_finished"
    assert (
        await client.post("/api/v1/backtests/999999/cancel", headers=trader.headers)
    ).status_code == 404


async def test_a_backtest_cancelled_after_it_was_accepted_stores_no_result(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    """Cancelled while it waits for a thread or runs: it ends `cancelled`, with no statistics,
    when the runner is done with it (the run's result is not written over the cancel)."""
    trader = await make_account()
    accepted = await post_backtest(client, trader, to_csv(random_walk_bars(300_000, seed=5)))
    assert accepted.status_code == 202, accepted.text
    backtest_id = accepted.json()["id"]
    cancelled = await client.post(f"/api/v1/backtests/{backtest_id}/cancel", headers=trader.headers)
    assert cancelled.status_code == 200, cancelled.text
    deadline = time.monotonic() + 120
    while container.backtests.pending:
        assert time.monotonic() < deadline, "the runner never let go of the backtest"
        await asyncio.sleep(0.05)  # polling interval, bounded by the deadline
    body = (await client.get(f"/api/v1/backtests/{backtest_id}", headers=trader.headers)).json()
    assert body["status"] == "cancelled"
    assert body["statistics"] is None
    assert body["trade_count"] == 0
    # A cancelled backtest no longer counts against the user's queue.
    listing = await client.get("/api/v1/backtests", headers=trader.headers)
    assert [item["status"] for item in listing.json()["items"]] == ["cancelled"]
