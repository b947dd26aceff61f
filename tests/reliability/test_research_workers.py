"""Research on procrastinate (PostgreSQL): `redfire worker` processes run what the API queued.

A worker killed mid-job (with its pool) and an API restarted meanwhile lose nothing: every
optimisation ends with exactly one result, the same as an uninterrupted run of the same
sweep; cancelling stops a queued job and aborts a running one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from websockets.asyncio.client import connect

from backend.services.backtest.synthetic import random_walk_bars
from tests.api.test_backtests import PARAMETERS, SETTINGS, to_csv
from tests.reliability.conftest import Services
from tests.reliability.support import (
    ServerProcess,
    WorkerProcess,
    free_port,
    requires_services,
    trader_headers,
    wait_until,
)

pytestmark = requires_services

ENGINE = {
    "RESEARCH__ENGINE": "procrastinate",
    "RESEARCH__WORKERS": "1",
    "RESEARCH__MAX_QUEUED_PER_USER": "10",
    # A killed worker's job is queued again within ~3 s instead of 30.
    "RESEARCH__HEARTBEAT_SECONDS": "0.5",
    "RESEARCH__STALLED_AFTER_SECONDS": "2",
    # The API's priority: an idle-priority worker (the default, checked by the cancel test)
    # waits for whatever else the test machine runs, for minutes on a busy one.
    "RESEARCH__CPU_PRIORITY": "normal",
}
BARS = to_csv(random_walk_bars(20_000, seed=7))
SWEEP: dict[str, Any] = {
    "class_name": "MovingAverageStrategy",
    "symbol": "rb2501.SHFE",
    "parameters": {"warmup_ticks": 40, "order_type": "limit"},
    "ranges": [
        {"name": "fast_window", "start": 3, "end": 10, "step": 1},
        {"name": "slow_window", "start": 20, "end": 34, "step": 2},
    ],
    "target": "total_return",
    "top": 5,
    "settings": SETTINGS,
}
ENDED = ("finished", "failed", "cancelled")


@asynccontextmanager
async def database(services: Services) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's own database, to read rows and jobs as they are."""
    engine = create_async_engine(services.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list(await connection.execute(text(sql), params))


async def submit(http: httpx.AsyncClient, headers: dict[str, str]) -> int:
    files = {"file": ("bars.csv", BARS, "text/csv")}
    response = await http.post(
        "/api/v1/optimizations", data={"optimization": json.dumps(SWEEP)}, files=files,
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


async def running_mid_job(engine: AsyncEngine, within: float) -> tuple[int, str]:
    """An optimisation some worker is running, part done: its id and the worker's name (the
    row's `replica`: who claimed it)."""
    found: list[Any] = []

    async def probe() -> bool:
        found[:] = await rows(
            engine,
            "SELECT id, replica FROM optimizations"
            " WHERE status = 'running' AND done > 0 AND done < total ORDER BY id",
        )
        return bool(found)

    await wait_until(probe, within=within, what="an optimisation running mid-job")
    return int(found[0].id), str(found[0].replica)


async def wait_all_ended(
    http: httpx.AsyncClient, headers: dict[str, str], ids: list[int], within: float
) -> dict[int, dict[str, Any]]:
    bodies: dict[int, dict[str, Any]] = {}

    async def ended() -> bool:
        for optimization_id in ids:
            response = await http.get(f"/api/v1/optimizations/{optimization_id}", headers=headers)
            assert response.status_code == 200, response.text
            bodies[optimization_id] = response.json()
        return all(body["status"] in ENDED for body in bodies.values())

    await wait_until(ended, within=within, interval=0.2, what=f"optimisations {ids} ended")
    return bodies


async def api_and_worker(
    services: Services,
    servers: list[ServerProcess],
    worker_name: str,
    metrics_port: int = 0,
    cpu_priority: str = "normal",
) -> tuple[ServerProcess, WorkerProcess]:
    """An API and one `redfire worker` on procrastinate, started; the API ready."""
    api = services.server("api", **ENGINE)
    worker = services.worker(
        worker_name, **{**ENGINE, "RESEARCH__CPU_PRIORITY": cpu_priority},
        RESEARCH__METRICS_PORT=str(metrics_port),
    )  # fmt: skip
    servers.extend([api, worker])
    api.start()
    worker.start()
    await api.wait_ready()
    return api, worker


async def test_killed_worker_and_restarted_api_lose_no_job(
    services: Services, servers: list[ServerProcess]
) -> None:
    api = services.server("api", **ENGINE)
    workers: dict[str, WorkerProcess] = {
        name: services.worker(name, **ENGINE, RESEARCH__METRICS_PORT="0")
        for name in ("worker-a", "worker-b")
    }
    servers.extend([api, *workers.values()])
    api.start()
    for worker in workers.values():
        worker.start()
    await api.wait_ready()
    async with (
        database(services) as engine,
        httpx.AsyncClient(base_url=api.base_url, timeout=30) as http,
    ):
        headers = await trader_headers(http, "researcher")
        ids = [await submit(http, headers) for _ in range(4)]
        victim_id, victim_name = await running_mid_job(engine, within=90)
        workers[victim_name].kill()
        api.signal(signal.SIGTERM)
        assert await api.wait_exit(within=30) == 0
        restarted = ServerProcess(api.env, services.workdir, port=api.port)
        servers.append(restarted)
        restarted.start()
        await restarted.wait_ready()
        bodies = await wait_all_ended(http, headers, ids, within=240)

        assert {body["status"] for body in bodies.values()} == {"finished"}, bodies
        # The same sweep on the same bars: the interrupted one ranks the same runs.
        reference = bodies[ids[0]]["runs"]
        assert reference
        assert all(body["runs"] == reference for body in bodies.values())
        assert all(body["done"] == body["total"] for body in bodies.values())
        claims = {
            row.id: row.attempt
            for row in await rows(engine, "SELECT id, attempt FROM optimizations")
        }
        assert claims[victim_id] >= 2, claims  # claimed again after its worker died
        jobs = await rows(
            engine,
            "SELECT j.status, j.attempts, o.id FROM procrastinate_jobs j"
            " JOIN optimizations o ON o.job_id = j.id",
        )
        # One job per optimisation, each succeeded once; the victim's was retried.
        assert sorted(row.id for row in jobs) == sorted(ids)
        assert {row.status for row in jobs} == {"succeeded"}
        assert next(row.attempts for row in jobs if row.id == victim_id) >= 1


async def test_progress_from_a_worker_reaches_the_owners_websocket_on_the_api(
    services: Services, servers: list[ServerProcess]
) -> None:
    """The worker publishes an optimisation's progress on the event bus (Redis); the API
    replica holding the owner's WebSocket delivers it: running from 0, done rising, then
    finished with done = total, and nothing of it to another user."""
    api, _ = await api_and_worker(services, servers, "worker-ws")
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        headers = await trader_headers(http, "ws-researcher")
        other = await trader_headers(http, "ws-bystander")
        sockets = [
            f"ws://127.0.0.1:{api.port}/api/v1/ws?token={token}"
            for token in (h["Authorization"].removeprefix("Bearer ") for h in (headers, other))
        ]
        async with (
            connect(sockets[0], open_timeout=5, close_timeout=1) as owner,
            connect(sockets[1], open_timeout=5, close_timeout=1) as bystander,
        ):
            optimization_id = await submit(http, headers)
            seen: list[dict[str, Any]] = []
            async with asyncio.timeout(120):
                while not seen or seen[-1]["status"] not in ENDED:
                    message = json.loads(await owner.recv())
                    if message["topic"] == "optimization":
                        assert message["data"]["id"] == optimization_id
                        seen.append(message["data"])
            strangers = []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):  # what reached the owner has been sent
                    while True:
                        strangers.append(json.loads(await bystander.recv())["topic"])
    assert "optimization" not in strangers
    assert (seen[0]["status"], seen[0]["done"]) == ("running", 0)
    assert seen[-1]["status"] == "finished"
    assert seen[-1]["done"] == seen[-1]["total"] == 64
    progress = [event["done"] for event in seen if event["status"] == "running"]
    assert progress == sorted(progress), progress
    assert len(progress) > 2, progress


def children_of(pid: int) -> list[int]:
    """The processes `pid` started (any of its threads), from /proc."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


async def test_cancel_stops_a_queued_and_a_running_job(
    services: Services, servers: list[ServerProcess]
) -> None:
    metrics_port = free_port()
    # The shipped priority (idle), checked below.
    api, worker = await api_and_worker(
        services, servers, "worker-only", metrics_port, cpu_priority="idle"
    )
    async with (
        database(services) as engine,
        httpx.AsyncClient(base_url=api.base_url, timeout=30) as http,
    ):
        headers = await trader_headers(http, "canceller")
        running = await submit(http, headers)
        queued = await submit(http, headers)
        assert (await running_mid_job(engine, within=90))[0] == running
        # Research runs at the lowest CPU priority (RESEARCH__CPU_PRIORITY=idle), its pool too.
        assert worker.process is not None
        assert os.sched_getscheduler(worker.process.pid) == os.SCHED_IDLE
        pool = children_of(worker.process.pid)
        assert pool
        assert {os.sched_getscheduler(pid) for pid in pool} == {os.SCHED_IDLE}

        async def api_reports_the_queue() -> bool:
            text = (await http.get("/metrics")).text
            return (
                'redfire_research_queue_jobs{status="todo"} 1.0' in text
                and 'redfire_research_queue_jobs{status="doing"} 1.0' in text
            )

        await wait_until(api_reports_the_queue, within=10, what="the queue on the API's /metrics")
        # The worker's own /metrics: the first job waited well under a second for it.
        scraped = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert 'redfire_research_job_wait_seconds_count{kind="optimization"} 1.0' in scraped
        assert 'redfire_research_job_wait_seconds_bucket{kind="optimization",le="1.0"} 1.0' in (
            scraped
        )
        for optimization_id in (queued, running):
            response = await http.post(
                f"/api/v1/optimizations/{optimization_id}/cancel", headers=headers
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "cancelled"

        async def job_status(optimization_id: int) -> str:
            found = await rows(
                engine,
                "SELECT j.status FROM procrastinate_jobs j JOIN optimizations o"
                " ON o.job_id = j.id WHERE o.id = :id",
                id=optimization_id,
            )
            return str(found[0].status)

        # Cancelled in the transaction that cancelled the row: no worker will take it.
        assert await job_status(queued) == "cancelled"

        async def stopped() -> bool:
            return await job_status(running) in ("aborted", "succeeded")

        await wait_until(stopped, within=20, what="the running job stopped")
        # The worker is free again: the next optimisation runs to its end.
        after = await submit(http, headers)
        bodies = await wait_all_ended(http, headers, [running, queued, after], within=120)
        assert bodies[after]["status"] == "finished"
        assert bodies[running]["status"] == bodies[queued]["status"] == "cancelled"
        assert bodies[running]["done"] < bodies[running]["total"]
        assert bodies[queued]["done"] == 0


BACKTEST_BARS = to_csv(random_walk_bars(200_000, seed=9))


async def submit_backtest(http: httpx.AsyncClient, headers: dict[str, str]) -> int:
    data = {"class_name": "MovingAverageStrategy", "symbol": "rb2501.SHFE",
            "parameters": json.dumps(PARAMETERS), "settings": json.dumps(SETTINGS)}  # fmt: skip
    files = {"file": ("bars.csv", BACKTEST_BARS, "text/csv")}
    response = await http.post("/api/v1/backtests", data=data, files=files, headers=headers)
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


async def test_backtests_keep_their_inputs_through_an_api_restart_and_a_lost_worker(
    services: Services, servers: list[ServerProcess]
) -> None:
    api = services.server("api", **ENGINE)
    servers.append(api)
    api.start()
    await api.wait_ready()
    async with (
        database(services) as engine,
        httpx.AsyncClient(base_url=api.base_url, timeout=60) as http,
    ):
        headers = await trader_headers(http, "backtester")
        # No worker yet: both wait in the queue while the API restarts.
        ids = [await submit_backtest(http, headers) for _ in range(2)]
        api.signal(signal.SIGTERM)
        assert await api.wait_exit(within=30) == 0
        restarted = ServerProcess(api.env, services.workdir, port=api.port)
        servers.append(restarted)
        restarted.start()
        await restarted.wait_ready()
        doomed = services.worker("worker-doomed", **ENGINE, RESEARCH__METRICS_PORT="0")
        servers.append(doomed)
        doomed.start()
        running: list[Any] = []

        async def claimed_by_doomed() -> bool:
            running[:] = await rows(
                engine,
                "SELECT id FROM backtests WHERE status = 'running' AND replica = 'worker-doomed'",
            )
            return bool(running)

        await wait_until(claimed_by_doomed, within=90, what="a backtest running on the worker")
        doomed.kill()
        survivor = services.worker("worker-survivor", **ENGINE, RESEARCH__METRICS_PORT="0")
        servers.append(survivor)
        survivor.start()
        bodies: dict[int, dict[str, Any]] = {}

        async def ended() -> bool:
            for backtest_id in ids:
                response = await http.get(f"/api/v1/backtests/{backtest_id}", headers=headers)
                assert response.status_code == 200, response.text
                bodies[backtest_id] = response.json()
            return all(body["status"] in ("finished", "failed") for body in bodies.values())

        await wait_until(ended, within=180, interval=0.2, what="both backtests ended")
        assert {body["status"] for body in bodies.values()} == {"finished"}, bodies
        first, second = (bodies[backtest_id] for backtest_id in ids)
        assert first["statistics"] == second["statistics"]
        assert first["bar_count"] == 200_000
        claims = {
            row.id: row.attempt for row in await rows(engine, "SELECT id, attempt FROM backtests")
        }
        assert claims[int(running[0].id)] >= 2, claims


async def test_cancelled_backtests_on_a_worker_store_no_result(
    services: Services, servers: list[ServerProcess]
) -> None:
    """One backtest running on the only worker, one waiting behind it: both cancelled, both
    end `cancelled` with no result (the waiting job is cancelled in procrastinate's queue),
    and the worker takes the next backtest."""
    api, _ = await api_and_worker(services, servers, "worker-cancel")
    async with (
        database(services) as engine,
        httpx.AsyncClient(base_url=api.base_url, timeout=60) as http,
    ):
        headers = await trader_headers(http, "canceller")
        running, waiting = [await submit_backtest(http, headers) for _ in range(2)]

        async def first_running() -> bool:
            found = await rows(engine, "SELECT status FROM backtests WHERE id = :id", id=running)
            return found[0].status == "running"

        await wait_until(first_running, within=90, what="the first backtest running")
        for backtest_id in (waiting, running):
            answer = await http.post(f"/api/v1/backtests/{backtest_id}/cancel", headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "cancelled"
        jobs = await rows(
            engine,
            "SELECT j.status FROM procrastinate_jobs j JOIN backtests b ON b.job_id = j.id"
            " WHERE b.id = :id",
            id=waiting,
        )
        assert [job.status for job in jobs] == ["cancelled"]
        after = await submit_backtest(http, headers)

        async def next_one_finished() -> bool:
            found = await rows(engine, "SELECT status FROM backtests WHERE id = :id", id=after)
            return found[0].status in ("finished", "failed")

        await wait_until(next_one_finished, within=180, interval=0.2, what="the next backtest")
        for backtest_id in (running, waiting):
            body = (await http.get(f"/api/v1/backtests/{backtest_id}", headers=headers)).json()
            assert body["status"] == "cancelled", body
            assert body["statistics"] is None
        finished = (await http.get(f"/api/v1/backtests/{after}", headers=headers)).json()
        assert finished["status"] == "finished", finished
