"""Research jobs on workers: per-job overhead, and the order path while backtests run.

Run with `make bench` or `.venv/bin/python -m bench.bench_research_jobs`. RedFire serves as one
uvicorn worker on PostgreSQL + Redis (production settings, procrastinate engine) beside two
`redfire worker` processes, as docker-compose.dev.yml runs them.

1. Per-job overhead: BENCH_JOBS (default 20) small backtests, one at a time on idle workers;
   each one's wait from enqueue (its row stored, in the transaction that defers its job) to
   start (a worker claimed it), from the rows' timestamps. Target (issue 20): < 200 ms.
2. The order path: POST /api/v1/orders (wrk, 16 connections, BENCH_SECONDS) quiet, then while
   two BENCH_BARS-bar (default 600,000) backtests run on the workers. Target: p99 within 1.5x
   of quiet, throughput within 10 %. The machine's cores are shared by the API, both workers,
   PostgreSQL and wrk: the ratio shows what research still takes from the order path here.
   Workers run at RESEARCH__CPU_PRIORITY (`idle` by default); a reference row runs them at
   `normal` priority.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from backend.services.backtest.synthetic import random_walk_bars
from bench.bench_orders import DESK_LIMITS, ORDER, PASSWORD, redfire_env, settle
from bench.support import (
    ROOT,
    Served,
    WrkResult,
    drop_redis_prefix,
    free_port,
    print_table,
    run_wrk,
    scratch_database,
    server,
)

JOBS = int(os.environ.get("BENCH_JOBS", "20"))
BARS = int(os.environ.get("BENCH_BARS", "600000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = 16
OVERHEAD_TARGET_MS = 200.0
PARAMETERS = {"fast_window": 5, "slow_window": 12, "warmup_ticks": 20, "order_type": "limit"}
SETTINGS = {"capital": "100000", "rate": "0.0001", "slippage": "0.5", "size": "10",
            "pricetick": "0.5"}  # fmt: skip


def csv_of(bars: int, seed: int) -> bytes:
    """A seeded random walk of one-minute bars as an upload."""
    series = random_walk_bars(bars, seed=seed)
    lines = ["datetime,open,high,low,close,volume"]
    for row in zip(series.datetimes, series.open, series.high, series.low, series.close,
                   series.volume, strict=True):  # fmt: skip
        lines.append(",".join([row[0].isoformat(), *(str(value) for value in row[1:])]))
    return ("\n".join(lines) + "\n").encode()


@contextmanager
def workers(env: dict[str, str], count: int, log: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`redfire worker` processes on the same settings, stopped (SIGTERM) afterwards."""
    started = []
    with log.open("ab") as sink:
        for index in range(count):
            worker_env = {
                **env,
                "REPLICA_ID": f"bench-worker-{index}",
                "RESEARCH__METRICS_PORT": "0",
            }
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "backend.cli", "worker"],
                    env=worker_env,
                    cwd=ROOT,
                    stdout=sink,
                    stderr=sink,
                )
            )
    try:
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=90)


def submit(base: str, headers: dict[str, str], content: bytes) -> int:
    data = {"class_name": "MovingAverageStrategy", "symbol": "rb2501.SHFE",
            "parameters": json.dumps(PARAMETERS), "settings": json.dumps(SETTINGS)}  # fmt: skip
    files = {"file": ("bars.csv", content, "text/csv")}
    response = httpx.post(
        f"{base}/api/v1/backtests", data=data, files=files, headers=headers, timeout=300
    )
    response.raise_for_status()
    return int(response.json()["id"])


def wait_status(base: str, headers: dict[str, str], backtest_id: int, wanted: set[str]) -> str:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        body = httpx.get(f"{base}/api/v1/backtests/{backtest_id}", headers=headers).json()
        if body["status"] in wanted:
            return str(body["status"])
        time.sleep(0.02)  # polling interval; the deadline bounds it
    raise RuntimeError(f"backtest {backtest_id} not {wanted} in time")


async def _waits(database_url: str, ids: list[int]) -> list[float]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT started_at, created_at FROM backtests WHERE id = ANY(:ids)"),
                {"ids": ids},
            )
            return [(started - created).total_seconds() * 1000 for started, created in rows]
    finally:
        await engine.dispose()


async def _registered(database_url: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT count(*) FROM procrastinate_workers")))
    finally:
        await engine.dispose()


def wait_workers(database_url: str, count: int) -> None:
    """Until `count` workers have registered with procrastinate (they listen for jobs)."""
    deadline = time.monotonic() + 120
    while asyncio.run(_registered(database_url)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} workers did not start")
        time.sleep(0.2)


def login(base: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/api/v1/auth/login", data={"username": "bench", "password": PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def per_job_overhead(api: Served, headers: dict[str, str], database_url: str) -> list[float]:
    """Enqueue -> start of JOBS small backtests, each on idle workers (ms)."""
    small = csv_of(2_000, seed=3)
    ids = []
    for _ in range(JOBS):
        backtest_id = submit(api.base, headers, small)
        wait_status(api.base, headers, backtest_id, {"finished", "failed"})
        ids.append(backtest_id)
    return asyncio.run(_waits(database_url, ids))


def loaded_run(
    api: Served, headers: dict[str, str], env: dict[str, str], database_url: str, log: Path
) -> WrkResult:
    """POST /orders while two workers (started on `env`) run BARS-bar backtests throughout.

    Four are uploaded first, while no worker runs (they wait in the queue, stored); then two
    workers start and take two, and each takes the next when its first ends, so two run all
    through the measurement (checked: at least two are still running or queued at its end).
    """
    ids = [submit(api.base, headers, csv_of(BARS, seed=seed)) for seed in (1, 2, 3, 4)]
    settle(api)
    with workers(env, 2, log):
        wait_workers(database_url, 2)
        for backtest_id in ids[:2]:
            wait_status(api.base, headers, backtest_id, {"running"})
        run = {"BENCH_RUN": uuid.uuid4().hex[:8]}
        loaded = run_wrk(api, "post_order.lua", {**order_env(headers), **run}, seconds=SECONDS,
                         connections=CONNECTIONS)  # fmt: skip
        still = [
            httpx.get(f"{api.base}/api/v1/backtests/{i}", headers=headers).json()["status"]
            for i in ids
        ]
        print(f"  backtests when the loaded run ended: {still}")
        if sum(status in ("running", "queued") for status in still) < 2:
            raise RuntimeError("the backtests ended before the measurement: raise BENCH_BARS")
        for backtest_id in ids:
            wait_status(api.base, headers, backtest_id, {"finished", "failed"})
    settle(api)
    return loaded


def order_env(headers: dict[str, str]) -> dict[str, str]:
    """wrk's environment for post_order.lua: the token and the order."""
    return {"BENCH_TOKEN": headers["Authorization"].split()[1], "BENCH_BODY": json.dumps(ORDER)}


def quiet_run(api: Served, headers: dict[str, str], run: str) -> WrkResult:
    """POST /orders with the workers idle (after a warm-up)."""
    common = order_env(headers)
    run_wrk(api, "post_order.lua", {**common, "BENCH_RUN": f"{run}-warm"}, seconds=3,
            connections=CONNECTIONS)  # fmt: skip
    settle(api)
    quiet = run_wrk(api, "post_order.lua", {**common, "BENCH_RUN": f"{run}-q"}, seconds=SECONDS,
                    connections=CONNECTIONS)  # fmt: skip
    settle(api)
    return quiet


def main() -> int:
    """Both measurements, the table and the targets."""
    from backend.core.database.migrations import upgrade

    run = uuid.uuid4().hex[:8]
    log = Path(tempfile.gettempdir()) / f"redfire-bench-research-{run}.log"
    with scratch_database(f"redfire_bench_research_{run}") as database_url:
        upgrade(database_url)
        env = {**redfire_env(database_url, run), "RESEARCH__ENGINE": "procrastinate",
               "BACKTEST__MAX_QUEUED_PER_USER": "10"}  # fmt: skip
        try:
            with server("backend.main:app", env, free_port(), log=log) as api:
                with workers(env, 2, log):
                    wait_workers(database_url, 2)
                    headers = login(api.base)
                    httpx.put(f"{api.base}/api/v1/admin/risk", json=DESK_LIMITS, headers=headers)
                    waits = per_job_overhead(api, headers, database_url)
                    quiet = quiet_run(api, headers, run)
                loaded = loaded_run(api, headers, env, database_url, log)
                # Reference: the same workers at the API's own priority (not the default).
                normal_priority = loaded_run(
                    api, headers, {**env, "RESEARCH__CPU_PRIORITY": "normal"}, database_url, log
                )
        finally:
            drop_redis_prefix(f"redfire-bench-{run}:")
    waits.sort()
    median = statistics.median(waits)
    p95 = waits[max(0, round(0.95 * len(waits)) - 1)]
    print(f"\nPer-job overhead, enqueue -> start on an idle worker ({len(waits)} backtests), ms:")
    print(f"  median {median:.1f}  p95 {p95:.1f}  max {waits[-1]:.1f}  min {waits[0]:.1f}")
    title = (
        f"POST /api/v1/orders, {CONNECTIONS} connections, {SECONDS}s: quiet vs two "
        f"{BARS:,}-bar backtests on 2 workers"
    )
    print_table(title, [
        ("quiet", quiet),
        ("two backtests running on workers", loaded),
        ("reference: workers at normal priority (not default)", normal_priority),
    ])  # fmt: skip
    p99_ratio = loaded.p99_ms / quiet.p99_ms
    rps_ratio = loaded.requests_per_second / quiet.requests_per_second
    checks = [
        (f"per-job overhead median < {OVERHEAD_TARGET_MS:.0f} ms ({median:.1f})",
         median < OVERHEAD_TARGET_MS),
        (f"order p99 within 1.5x of quiet ({p99_ratio:.2f}x)", p99_ratio <= 1.5),
        (f"order throughput within 10 % of quiet ({rps_ratio:.2f}x)", rps_ratio >= 0.9),
    ]  # fmt: skip
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISS'}] {label}")
    print(f"  logs: {log}; {os.cpu_count()} CPUs, load before {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
