"""Backtests on stored bars: the same result as the same bars uploaded, bars counted not bytes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from backend.core.config import AppConfig
from backend.models.enums import UserRole
from backend.services.backtest.synthetic import random_walk_bars
from tests.api.conftest import MakeAccount
from tests.api.stream import started_app
from tests.api.test_backtests import CSV, PARAMETERS, SETTINGS, post_backtest, to_csv, wait_finished

HISTORY = {
    "source": "history",
    "symbol": "rb2501.SHFE",
    "interval": "1m",
    "start": "2024-01-02T00:00:00Z",
    "end": "2024-02-01T00:00:00Z",
    "class_name": "MovingAverageStrategy",
    "parameters": PARAMETERS,
    "settings": SETTINGS,
}


async def import_csv(client: httpx.AsyncClient, headers: dict[str, str], content: bytes) -> None:
    response = await client.post(
        "/api/v1/market/bars/import",
        params={"symbol": "rb2501.SHFE", "interval": "1m"},
        content=content,
        headers={**headers, "content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text


def numeric_trades(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            trade["trade_time"],
            trade["side"],
            Decimal(trade["price"]),
            Decimal(trade["quantity"]),
            trade["commission"],
        )
        for trade in body["trades"]
    ]


async def test_stored_bars_backtest_as_the_same_bars_uploaded(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin, trader = await make_account(UserRole.ADMIN), await make_account()
    await import_csv(client, admin.headers, CSV)
    stored = await client.post("/api/v1/backtests", json=HISTORY, headers=trader.headers)
    assert stored.status_code == 202, stored.text
    uploaded = await post_backtest(client, trader)
    ours = await wait_finished(client, trader, stored.json()["id"])
    theirs = await wait_finished(client, trader, uploaded.json()["id"])
    assert (ours["status"], theirs["status"]) == ("finished", "finished"), ours["error"]
    assert (ours["source"], theirs["source"]) == ("history", "csv")
    assert ours["bar_count"] == theirs["bar_count"] == 3000
    assert theirs["trade_count"] > 10
    assert ours["statistics"] == theirs["statistics"]
    assert numeric_trades(ours) == numeric_trades(theirs)
    assert ours["daily"] == theirs["daily"]


async def test_history_requests_that_cannot_run_are_422(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()

    async def post(**changes: Any) -> httpx.Response:
        body = {key: value for key, value in {**HISTORY, **changes}.items() if value is not None}
        return await client.post("/api/v1/backtests", json=body, headers=trader.headers)

    nothing = await post()
    assert (nothing.status_code, nothing.json()["error"]) == (422, "no_stored_bars")
    assert "rb2501.SHFE" in nothing.json()["detail"]
    for changes, where in (
        ({"end": "2024-01-02T00:00:00Z"}, ["body", "history"]),
        ({"interval": "2m"}, ["body", "history", "interval"]),
        ({"start": "1800-01-01T00:00:00Z"}, ["body", "history", "start"]),
        ({"start": 1704153600}, ["body", "history", "start"]),  # not Unix seconds
        ({"end": "0001-01-01T01:00:00+01:04"}, ["body", "history", "end"]),  # before year 1 in UTC
        ({"venue": "x"}, ["body", "history", "venue"]),
        ({"start": None}, ["body", "history", "start"]),
    ):
        response = await post(**changes)
        assert response.status_code == 422, changes
        assert where in [error["loc"] for error in response.json()["detail"]], response.json()
    listing = await client.get("/api/v1/backtests", headers=trader.headers)
    assert listing.json()["total"] == 0


async def test_uploads_are_bounded_by_bars_not_by_the_body_limit(
    make_account: MakeAccount, make_config: Callable[..., AppConfig]
) -> None:
    trader = await make_account()
    large = to_csv(random_walk_bars(30_000, seed=2))
    async with started_app(make_config, backtest={"max_bars": 20_000}) as other:
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            token = await client.post(
                "/api/v1/auth/login",
                data={"username": trader.username, "password": trader.password},
            )
            account = trader
            account.access_token = token.json()["access_token"]
            assert len(large) > other.state.container.config.max_body_bytes
            refused = await post_backtest(client, account, large)
            assert refused.status_code == 422
            assert refused.json()["detail"] == "line 20002: more than 20000 bars"
            accepted = await post_backtest(client, account, to_csv(random_walk_bars(20_000)))
            assert accepted.status_code == 202, accepted.text
            body = await wait_finished(client, account, accepted.json()["id"])
            assert (body["status"], body["bar_count"]) == ("finished", 20_000)
