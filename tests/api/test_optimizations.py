"""Optimisations over REST: stored or uploaded bars, progress, best runs, cancel, owner only."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.core.config.sections import ResearchConfig
from backend.models.enums import OptimizationStatus, UserRole
from backend.models.optimization import Optimization
from backend.models.replica import Replica
from backend.schemas.backtests import BacktestSettings
from backend.services.backtest.bars import parse_csv_bars
from backend.services.backtest.results import statistics_record
from backend.services.backtest.strategies import run_strategy_backtest
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.research.runner import cost_model, research_pool
from tests.api.conftest import Account, MakeAccount
from tests.api.stream import container_of, serve, started_app, ws_client
from tests.api.test_backtest_history import import_csv
from tests.api.test_backtests import SETTINGS, to_csv

CSV = to_csv(random_walk_bars(1500, seed=5))
SWEEP: dict[str, Any] = {
    "class_name": "MovingAverageStrategy",
    "symbol": "rb2501.SHFE",
    "parameters": {"warmup_ticks": 40, "order_type": "limit"},
    "ranges": [
        {"name": "fast_window", "start": 3, "end": 9, "step": 3},
        {"name": "slow_window", "start": 8, "end": 20, "step": 6},
    ],
    "target": "total_return",
    "top": 5,
    "settings": SETTINGS,
}
HISTORY = {**SWEEP, "source": "history", "interval": "1m",
           "start": "2024-01-02T00:00:00Z", "end": "2024-02-01T00:00:00Z"}  # fmt: skip


async def post_upload(
    client: httpx.AsyncClient, account: Account, sweep: dict[str, Any] = SWEEP,
    content: bytes = CSV,
) -> httpx.Response:  # fmt: skip
    files = {"file": ("bars.csv", content, "text/csv")}
    data = {"optimization": json.dumps(sweep)}
    return await client.post(
        "/api/v1/optimizations", data=data, files=files, headers=account.headers
    )


async def wait_ended(client: httpx.AsyncClient, account: Account, optimization_id: int) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = await client.get(
            f"/api/v1/optimizations/{optimization_id}", headers=account.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("finished", "failed", "cancelled"):
            return body
        await asyncio.sleep(0.05)  # polling interval, not synchronisation: the deadline bounds it
    raise AssertionError(f"optimization {optimization_id} did not end in time")


def single_statistics(container: AppContainer, parameters: dict[str, Any]) -> dict[str, Any]:
    registry = container.strategies.registry
    bars = parse_csv_bars(CSV, symbol="rb2501.SHFE", max_bars=10_000)
    settings = BacktestSettings.model_validate(SETTINGS).model_dump(mode="json")
    costs, ratios, start = cost_model(settings)
    entry = registry.entry("MovingAverageStrategy")
    validated = registry.validate("MovingAverageStrategy", parameters)
    run = run_strategy_backtest(entry, validated, bars, costs, ratios, start)
    return statistics_record(run.result.statistics)


async def test_uploaded_bars_sweep_to_ranked_runs_equal_to_single_backtests(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    trader = await make_account()
    response = await post_upload(client, trader)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert accepted["total"] == 9
    body = await wait_ended(client, trader, accepted["id"])
    assert body["status"] == "finished", body["error"]
    assert (body["done"], body["total"]) == (9, 9)
    assert body["evaluated"] + body["refused"] == 9
    assert body["source"] == "csv"
    assert body["bar_count"] == 1500
    runs = body["runs"]
    assert 1 <= len(runs) <= 5
    returns = [Decimal(run["statistics"]["total_return"]) for run in runs]
    assert returns == sorted(returns, reverse=True)
    for run in runs:
        assert run["statistics"] == single_statistics(container, run["parameters"])
    listed = await client.get("/api/v1/optimizations", headers=trader.headers)
    assert listed.json()["total"] == 1
    assert "runs" not in listed.json()["items"][0]


async def test_stored_history_sweep_gives_the_same_runs_as_the_upload(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin, trader = await make_account(UserRole.ADMIN), await make_account()
    await import_csv(client, admin.headers, CSV)
    stored = await client.post("/api/v1/optimizations", json=HISTORY, headers=trader.headers)
    assert stored.status_code == 202, stored.text
    ours = await wait_ended(client, trader, stored.json()["id"])
    uploaded = await post_upload(client, trader)
    theirs = await wait_ended(client, trader, uploaded.json()["id"])
    assert (ours["status"], theirs["status"]) == ("finished", "finished"), ours["error"]
    assert ours["source"] == "history"
    assert ours["runs"] == theirs["runs"]


async def test_genetic_search_runs_within_its_budget(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    sweep = {**SWEEP, "method": "genetic", "target": "sharpe_ratio",
             "genetic": {"population": 4, "offspring": 4, "generations": 2, "seed": 9}}  # fmt: skip
    response = await post_upload(client, trader, sweep)
    assert response.status_code == 202, response.text
    assert response.json()["total"] == 12
    body = await wait_ended(client, trader, response.json()["id"])
    assert body["status"] == "finished", body["error"]
    assert 0 < body["evaluated"] <= 9
    assert body["request"]["genetic"]["seed"] == 9


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"ranges": [{"name": "nope", "start": 1, "end": 2, "step": 1}]},
         "invalid_parameter_space"),
        ({"ranges": [{"name": "order_type", "start": 1, "end": 2, "step": 1}]},
         "invalid_parameter_space"),
        ({"ranges": [{"name": "fast_window", "start": 1, "end": 2000, "step": 1}]},
         "too_many_combinations"),
        ({"ranges": [{"name": "fast_window", "start": 1, "end": 2, "step": 0}]},
         "validation_error"),
        ({"ranges": []}, "validation_error"),
        ({"target": "rm -rf"}, "validation_error"),
        ({"method": "random"}, "validation_error"),
        ({"class_name": "NoSuchStrategy"}, "unknown_strategy_class"),
        ({"parameters": {"warmup_ticks": 5}}, "no_valid_combination"),
        ({"method": "genetic", "genetic": {"population": 1000, "offspring": 1000,
                                            "generations": 100}}, "too_many_combinations"),
    ],
)  # fmt: skip
async def test_sweeps_that_cannot_run_are_422_and_nothing_is_stored(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    container: AppContainer,
    change: dict[str, Any],
    code: str,
) -> None:
    trader = await make_account()
    response = await post_upload(client, trader, {**SWEEP, **change})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code
    history = await client.post(
        "/api/v1/optimizations", json={**HISTORY, **change}, headers=trader.headers
    )
    assert history.status_code == 422, history.text
    async with container.database.session() as session:
        assert (await session.scalars(select(Optimization))).all() == []


async def test_bad_bars_and_missing_history_are_422(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    bad = await post_upload(client, trader, content=b"datetime,open,high,low,close,volume\nx\n")
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_bar_data"
    missing = await client.post("/api/v1/optimizations", json=HISTORY, headers=trader.headers)
    assert missing.status_code == 422
    assert missing.json()["error"] == "no_stored_bars"


async def test_optimizations_are_owner_scoped_and_viewers_cannot_start_them(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    owner, other = await make_account(), await make_account()
    viewer = await make_account(UserRole.VIEWER)
    response = await post_upload(client, owner)
    optimization_id = response.json()["id"]
    for path in (f"/api/v1/optimizations/{optimization_id}",):
        theirs = await client.get(path, headers=other.headers)
        assert theirs.status_code == 404
        assert theirs.json()["error"] == "optimization_not_found"
    cancel = await client.post(f"/api/v1/optimizations/{optimization_id}/cancel",
                               headers=other.headers)  # fmt: skip
    assert cancel.status_code == 404
    assert (await client.get("/api/v1/optimizations", headers=other.headers)).json()["total"] == 0
    assert (await post_upload(client, viewer)).status_code == 403
    await wait_ended(client, owner, optimization_id)


async def test_cancel_stops_an_optimization_and_a_second_cancel_is_409(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    ranges = [{"name": "fast_window", "start": 2, "end": 40, "step": 1},
              {"name": "slow_window", "start": 41, "end": 50, "step": 1}]  # fmt: skip
    big = {**SWEEP, "parameters": {"warmup_ticks": 60}, "ranges": ranges}
    response = await post_upload(client, trader, big, content=to_csv(random_walk_bars(20_000)))
    assert response.status_code == 202, response.text
    optimization_id = response.json()["id"]
    cancel = await client.post(f"/api/v1/optimizations/{optimization_id}/cancel",
                               headers=trader.headers)  # fmt: skip
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "cancelled"
    body = await wait_ended(client, trader, optimization_id)
    assert body["status"] == "cancelled"
    assert body["runs"] is None
    again = await client.post(f"/api/v1/optimizations/{optimization_id}/cancel",
                              headers=trader.headers)  # fmt: skip
    assert again.status_code == 409
    assert again.json()["error"] == "optimization_finished"


async def test_too_many_queued_optimizations_is_429(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    trader = await make_account()
    limit = container.config.research.max_queued_per_user
    async with container.database.session() as session:
        waiting = [
            Optimization(
                user_id=trader.id,
                status=OptimizationStatus.QUEUED,
                class_name="MovingAverageStrategy",
                symbol="rb2501.SHFE",
                source="csv",
                method="grid",
                target="sharpe_ratio",
                request={},
                settings={},
                bar_count=1,
                total=1,
                done=0,
                evaluated=0,
                refused=0,
                replica="elsewhere",
            )
            for _ in range(limit)
        ]
        session.add_all(waiting)
        await session.flush()
        ids = [row.id for row in waiting]
    refused = await post_upload(client, trader)
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_queued_optimizations"
    assert "Retry-After" in refused.headers
    cancel = await client.post(f"/api/v1/optimizations/{ids[0]}/cancel", headers=trader.headers)
    assert cancel.status_code == 200
    accepted = await post_upload(client, trader)
    assert accepted.status_code == 202, accepted.text
    await wait_ended(client, trader, accepted.json()["id"])


async def test_an_interrupted_optimization_runs_again_at_start(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    """A row left running by a replica that stopped is queued again, and finishes, when the
    runner starts: the upload is kept in the row, nothing lived only in memory."""
    trader = await make_account()
    response = await post_upload(client, trader)
    optimization_id = response.json()["id"]
    await wait_ended(client, trader, optimization_id)
    runner = container.research
    async with container.database.session() as session:
        row = await session.get(Optimization, optimization_id)
        assert row is not None
        first_runs = row.runs
        row.status, row.runs, row.done = OptimizationStatus.RUNNING, None, 3
    await runner.stop()
    await runner.start()
    body = await wait_ended(client, trader, optimization_id)
    assert body["status"] == "finished"
    assert body["runs"] == first_runs


@pytest.fixture
async def ws_url(app: FastAPI) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


async def test_progress_reaches_the_owner_on_the_websocket(
    ws_url: str, client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    async with ws_client(ws_url, token=trader.access_token) as ws:
        await ws.send({"op": "ping"})
        await ws.expect("pong")
        response = await post_upload(client, trader)
        optimization_id = response.json()["id"]
        seen = []
        while True:
            message = await ws.expect("optimization", wait=60)
            data = message["data"]
            assert data["id"] == optimization_id
            seen.append((data["status"], data["done"], data["total"]))
            if data["status"] != "running":
                break
    assert seen[0] == ("running", 0, 9)
    assert seen[-1] == ("finished", 9, 9)
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)


async def test_a_departed_replicas_optimization_is_taken_over_and_finished(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    container: AppContainer,
    make_config: Callable[..., AppConfig],
) -> None:
    """A replica gone for good (its heartbeat long past) left an optimisation running: the
    replica that settles it runs it again from its stored inputs, to the same runs."""
    trader = await make_account()
    response = await post_upload(client, trader)
    optimization_id = response.json()["id"]
    first = await wait_ended(client, trader, optimization_id)
    departed = f"gone-{uuid.uuid4().hex[:6]}"
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    async with container.database.session() as session:
        session.add(Replica(id=departed, started_at=long_ago, heartbeat_at=long_ago))
        row = await session.get(Optimization, optimization_id)
        assert row is not None
        row.status, row.runs, row.replica = OptimizationStatus.RUNNING, None, departed
    survivor = f"survivor-{uuid.uuid4().hex[:6]}"
    async with started_app(make_config, replica_id=survivor) as app:
        await container_of(app).replicas.first_sweep.wait()
        body = await wait_ended(client, trader, optimization_id)
    assert body["status"] == "finished"
    assert body["runs"] == first["runs"]
    async with container.database.session() as session:
        row = await session.get(Optimization, optimization_id, populate_existing=True)
        assert row is not None
        assert row.replica != departed  # the survivor's, or the session app's if it swept first


async def test_an_adopted_optimization_reaches_the_runner_only_once_the_settlement_commits(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    """Adopted inside the settling transaction, an optimisation is handed to the runner after
    the commit: a claim made before it would read the departed replica's `running` row (SQLite
    has no row lock to wait on) and drop it, left queued for good. A rollback hands nothing."""
    trader = await make_account()
    optimization_id = (await post_upload(client, trader)).json()["id"]
    first = await wait_ended(client, trader, optimization_id)
    departed = f"gone-{uuid.uuid4().hex[:6]}"
    async with container.database.session() as session:
        row = await session.get(Optimization, optimization_id)
        assert row is not None
        row.status, row.runs, row.replica = OptimizationStatus.RUNNING, None, departed
    runner = container.research

    class SettlementFailedError(Exception):
        pass

    with pytest.raises(SettlementFailedError):
        async with container.database.unit_of_work() as work:
            await runner.adopt(work.session, departed)
            raise SettlementFailedError
    assert runner.pending == 0
    async with container.database.session() as session:
        row = await session.get(Optimization, optimization_id, populate_existing=True)
        assert row is not None
        assert (row.status, row.replica) == (OptimizationStatus.RUNNING, departed)

    async with container.database.unit_of_work() as work:
        await runner.adopt(work.session, departed)
        assert runner.pending == 0  # not before the commit
    assert runner.pending == 1
    body = await wait_ended(client, trader, optimization_id)
    assert body["status"] == "finished"
    assert body["runs"] == first["runs"]


async def test_a_worker_killed_mid_job_is_replaced_and_the_job_runs_again_to_one_result(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    """SIGKILL one of the pool's worker processes while combinations run: the pool is renewed,
    the optimisation is queued again from the start and finishes once, with the runs an
    undisturbed one gives."""
    trader = await make_account()
    content = to_csv(random_walk_bars(30_000, seed=8))
    ranges = [{"name": "fast_window", "start": 3, "end": 9, "step": 2},
              {"name": "slow_window", "start": 10, "end": 22, "step": 4}]  # fmt: skip
    sweep = {**SWEEP, "parameters": {"warmup_ticks": 30}, "ranges": ranges}
    response = await post_upload(client, trader, sweep, content=content)
    optimization_id = response.json()["id"]
    runner = container.research
    path = f"/api/v1/optimizations/{optimization_id}"
    deadline = time.monotonic() + 60
    while not (
        runner.worker_pids
        and (await client.get(path, headers=trader.headers)).json()["status"] == "running"
    ):
        assert time.monotonic() < deadline, "the optimisation never started"
        await asyncio.sleep(0.02)  # polling interval, bounded by the deadline
    retried = REGISTRY.get_sample_value("redfire_research_jobs_total", {"outcome": "retried"})
    os.kill(runner.worker_pids[0], signal.SIGKILL)
    killed = await wait_ended(client, trader, optimization_id)
    after = REGISTRY.get_sample_value("redfire_research_jobs_total", {"outcome": "retried"})
    assert (after or 0) == (retried or 0) + 1
    assert killed["status"] == "finished", killed["error"]
    assert killed["done"] == killed["total"] == 16
    again = await post_upload(client, trader, sweep, content=content)
    undisturbed = await wait_ended(client, trader, again.json()["id"])
    assert killed["runs"] == undisturbed["runs"]
    async with container.database.session() as session:
        rows = (await session.scalars(select(Optimization))).all()
    assert sorted(row.status for row in rows) == ["finished", "finished"]


async def test_an_optimization_submitted_before_the_runner_starts_runs_once_it_has(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    """What the first sweep adopts at start-up reaches the runner before its own start."""
    trader = await make_account()
    response = await post_upload(client, trader)
    optimization_id = response.json()["id"]
    first = await wait_ended(client, trader, optimization_id)
    runner = container.research
    await runner.stop()
    async with container.database.session() as session:
        row = await session.get(Optimization, optimization_id)
        assert row is not None
        # Another replica's name: only the submission, not start's own requeue, can find it.
        row.status, row.runs, row.replica = OptimizationStatus.QUEUED, None, "adopted"
    runner.submit(optimization_id)
    assert runner.pending == 0
    await runner.start()
    body = await wait_ended(client, trader, optimization_id)
    assert body["status"] == "finished"
    assert body["runs"] == first["runs"]


def test_the_local_pool_runs_research_at_the_shipped_idle_priority() -> None:
    """RESEARCH__CPU_PRIORITY is idle unless set: the pool's processes take SCHED_IDLE before
    they run anything, the API process keeps its own."""
    assert ResearchConfig().cpu_priority == "idle"
    pool = research_pool(1, ResearchConfig().cpu_priority)
    try:
        assert pool.submit(os.sched_getscheduler, 0).result(timeout=60) == os.SCHED_IDLE
    finally:
        pool.shutdown(wait=True)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


async def test_an_optimization_left_without_a_task_is_resumed_by_its_replica(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    """A claim or a result write that failed (the database away) ends the run's task and
    leaves the row this replica's, queued or running, for no one: the runner's watch finds
    such rows and runs them again to the result an undisturbed run gives."""
    trader = await make_account()
    runner = container.research
    ids = [(await post_upload(client, trader)).json()["id"] for _ in range(2)]
    first = [await wait_ended(client, trader, optimization_id) for optimization_id in ids]
    left = dict(zip(ids, (OptimizationStatus.QUEUED, OptimizationStatus.RUNNING), strict=True))
    async with container.database.session() as session:
        for optimization_id, status in left.items():
            row = await session.get(Optimization, optimization_id)
            assert row is not None
            row.status, row.runs, row.done = status, None, 2
    assert runner.pending == 0
    resumed = await runner.resume_orphans()
    # Both run again: here, or (once in a while) by the runner's own watch a moment before.
    assert set(resumed) <= set(ids)
    assert runner.pending == 2
    assert await runner.resume_orphans() == []  # both have their task now
    for optimization_id, before in zip(ids, first, strict=True):
        body = await wait_ended(client, trader, optimization_id)
        assert body["status"] == "finished"
        assert body["runs"] == before["runs"]
