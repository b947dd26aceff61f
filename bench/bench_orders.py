"""Order API benchmark: RedFire on PostgreSQL (one uvicorn worker) against a tutorial baseline.

Run with `make bench` or `.venv/bin/python -m bench.bench_orders`. wrk drives 64 connections
for BENCH_SECONDS (default 10) per scenario; the table compares both in the same run.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import httpx

from bench.support import (
    REDIS_URL,
    WrkResult,
    drop_redis_prefix,
    free_port,
    print_table,
    run_wrk,
    scratch_database,
    server,
    vacuum_analyze,
)

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ORDER = {
    "symbol": "IF2412.CFFEX",
    "side": "BUY",
    "order_type": "limit",
    "quantity": "1",
    "price": "3400.0",
}
MARKET_ORDER = {"symbol": "IF2412.CFFEX", "side": "BUY", "order_type": "market", "quantity": "1"}
PASSWORD = "bench-password-123"


def redfire_env(database_url: str, run: str) -> dict[str, str]:
    """Production settings with limits out of the benchmark's way."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "REDIS__KEY_PREFIX": f"redfire-bench-{run}:",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "WARNING",
        "ADMIN__USERNAME": "bench",
        "ADMIN__PASSWORD": PASSWORD,
        "RISK__MAX_ORDERS_PER_SECOND": "1000000",
        "RISK__MAX_OPEN_ORDERS": "100000000",
        # Funded for every order the run places (each holds its notional): accepted, not
        # rejected for buying power.
        "RISK__PAPER_INITIAL_BALANCE": "1000000000000000",
        "VNPY__PAPER_TICK_INTERVAL": "0",
        # One connection per in-flight request and no overflow: an overflow connection is
        # opened and closed again under sustained load, and asyncpg's connect is expensive.
        "DATABASE__POOL_SIZE": "32",
        "DATABASE__MAX_OVERFLOW": "0",
    }


QUEUES = (
    "redfire_order_intake_queued",
    "redfire_order_events_queued",
    "redfire_event_bridge_queue_depth",
)


def settle(base: str, timeout: float = 120.0) -> None:
    """Wait until the previous scenario's orders and gateway events are all booked.

    Each scenario then measures its own work, not the tail of the one before.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = httpx.get(f"{base}/metrics", timeout=5).text
        values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(QUEUES)]
        if values and not any(values):
            return
        time.sleep(0.2)
    raise RuntimeError(f"RedFire still busy after {timeout:.0f} s")


def bench_redfire(database_url: str, run: str) -> list[tuple[str, WrkResult]]:
    """POST and GET scenarios against RedFire."""
    env = redfire_env(database_url, run)
    from backend.core.database.migrations import upgrade

    upgrade(database_url)
    with server("backend.main:app", env, free_port()) as base:
        login = httpx.post(
            f"{base}/api/v1/auth/login", data={"username": "bench", "password": PASSWORD}
        )
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        order_id = httpx.post(f"{base}/api/v1/orders", json=ORDER, headers=headers).json()["id"]
        common = {"BENCH_TOKEN": token, "BENCH_BODY": json.dumps(ORDER)}
        run_wrk(base, "post_order.lua", {**common, "BENCH_RUN": f"{run}-warm"}, seconds=3)
        settle(base)
        vacuum_analyze(database_url)
        post = run_wrk(base, "post_order.lua", {**common, "BENCH_RUN": run}, seconds=SECONDS)
        settle(base)
        get_path = {"BENCH_PATH": f"/api/v1/orders/{order_id}", "BENCH_TOKEN": token}
        get = run_wrk(base, "get.lua", get_path, seconds=SECONDS)
        # Market orders fill at once: trades, positions and the account are booked as well.
        market = {**common, "BENCH_BODY": json.dumps(MARKET_ORDER), "BENCH_RUN": f"{run}-m"}
        settle(base)
        filled = run_wrk(base, "post_order.lua", market, seconds=SECONDS)
    return [
        ("RedFire POST /api/v1/orders (limit, rests)", post),
        ("RedFire GET /api/v1/orders/{id}", get),
        ("RedFire POST /api/v1/orders (market, fills)", filled),
    ]


def bench_baseline(database_url: str) -> WrkResult:
    """The tutorial-style FastAPI + SQLAlchemy ORM insert."""
    env = {**os.environ, "DATABASE_URL": database_url}
    with server("bench.baseline_app:app", env, free_port()) as base:
        body = {"BENCH_BODY": json.dumps(ORDER), "BENCH_RUN": "baseline"}
        run_wrk(base, "post_order.lua", body, seconds=3)
        return run_wrk(base, "post_order.lua", body, seconds=SECONDS)


def bench_floor(database_url: str) -> tuple[WrkResult, WrkResult]:
    """FastAPI + one asyncpg statement per request: the floor under any order endpoint."""
    env = {**os.environ, "DATABASE_URL": database_url}
    with server("bench.floor_app:app", env, free_port()) as base:
        body = {"BENCH_BODY": json.dumps(ORDER), "BENCH_RUN": "floor"}
        run_wrk(base, "post_order.lua", body, seconds=3)
        post = run_wrk(base, "post_order.lua", body, seconds=SECONDS)
        get = run_wrk(base, "get.lua", {"BENCH_PATH": "/api/v1/orders/1"}, seconds=SECONDS)
    return post, get


def bench_ceiling() -> WrkResult:
    """The framework alone: the same body validated and echoed, nothing stored."""
    with server("bench.ceiling_app:app", dict(os.environ), free_port()) as base:
        body = {"BENCH_BODY": json.dumps(ORDER), "BENCH_RUN": "ceiling"}
        run_wrk(base, "post_order.lua", body, seconds=3)
        return run_wrk(base, "post_order.lua", body, seconds=SECONDS)


def main() -> int:
    """Run both, print the table and whether the targets hold."""
    run = uuid.uuid4().hex[:8]
    with scratch_database(f"redfire_bench_{run}") as database_url:
        try:
            rows = bench_redfire(database_url, run)
        finally:
            drop_redis_prefix(f"redfire-bench-{run}:")
        baseline = bench_baseline(database_url)
        floor_post, floor_get = bench_floor(database_url)
    rows.append(("baseline POST (FastAPI + ORM, session/request)", baseline))
    rows.append(("reference: FastAPI + 1 asyncpg INSERT (floor)", floor_post))
    rows.append(("reference: FastAPI + 1 asyncpg SELECT (floor)", floor_get))
    rows.append(("reference: FastAPI echo, no I/O (ceiling)", bench_ceiling()))
    print_table(f"Order API, PostgreSQL, 1 worker, 64 connections, {SECONDS}s each", rows)
    post, get = rows[0][1], rows[1][1]
    ratio = post.requests_per_second / baseline.requests_per_second
    checks = [
        (f"POST >= 3x baseline ({ratio:.2f}x)", ratio >= 3),
        (f"POST >= 1000 req/s ({post.requests_per_second:,.0f})", post.requests_per_second >= 1000),
        (f"POST p99 < 100 ms ({post.p99_ms:.1f})", post.p99_ms < 100),
        (f"POST zero errors ({post.errors})", post.errors == 0),
        (f"GET >= 2500 req/s ({get.requests_per_second:,.0f})", get.requests_per_second >= 2500),
    ]
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISS'}] {label}")
    # Against the rows with none of RedFire's code in them: comparable across machines.
    post_share = post.requests_per_second / floor_post.requests_per_second
    get_share = get.requests_per_second / floor_get.requests_per_second
    shares = f"POST {post_share:.2f} of 1 INSERT, GET {get_share:.2f} of 1 SELECT"
    print(f"  share of the floor rows: {shares}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
