"""Restart benchmark: a replica coming back to the open orders it left behind.

Run with `make bench` or `.venv/bin/python -m bench.bench_restart` (PostgreSQL and Redis on
loopback). The PAPER gateway keeps its book in memory: after a restart it knows none of the
orders the replica left open, and the start-up reconciliation rejects each as
`lost_on_restart` before the replica takes orders (backend/services/orders/reconciliation.py).
A start hook that runs longer than HOOK_TIMEOUT_SECONDS (30 s by default) fails the start.

Rows: seconds from launching uvicorn (production settings, one worker) until it answers, on
an empty book (the baseline, measured in the same run) and with BENCH_RESTART_ORDERS (default
20,000 and 100,000) open orders of its replica in the database; then the orders still open
after each start (0 expected). Target: a book of 20,000 adds under 5 s to a start.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.bench_orders import redfire_env
from bench.support import drop_redis_prefix, free_port, scratch_database, server, vacuum_analyze

BOOKS = [int(n) for n in os.environ.get("BENCH_RESTART_ORDERS", "20000,100000").split(",")]
REPLICA = "bench-restart"
# Open orders in every open status, half of them with a gateway id the new process lacks.
LEAVE_OPEN = """
INSERT INTO orders (user_id, symbol, side, order_type, quantity, price, time_in_force,
    status, filled_quantity, client_order_id, client_ref, vt_orderid, gateway, replica,
    created_at, updated_at)
SELECT (SELECT min(id) FROM users), 'IF2412.CFFEX', CASE WHEN n % 2 = 0 THEN 'BUY' ELSE 'SELL' END,
    'limit', 2, 3400.2, 'GTC',
    (ARRAY['pending', 'submitted', 'partially_filled'])[n % 3 + 1],
    CASE WHEN n % 3 = 2 THEN 1 ELSE 0 END, :prefix || n, :prefix || n,
    CASE WHEN n % 2 = 0 THEN NULL ELSE 'PAPER.' || :prefix || n END, 'PAPER', :replica,
    now(), now()
FROM generate_series(1, :count) AS n
"""
OPEN = "SELECT count(*) FROM orders WHERE status IN ('pending', 'submitted', 'partially_filled')"


async def _execute(database_url: str, statement: str, **parameters: object) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), parameters)
            return int(result.scalar() or 0) if result.returns_rows else 0
    finally:
        await engine.dispose()


def timed_start(env: dict[str, str], log: Path) -> float:
    """Seconds from launching the server until it answers (start-up hooks all done)."""
    started = time.monotonic()
    with server("backend.main:app", env, free_port(), log=log):
        return time.monotonic() - started


def main() -> int:
    """Start on an empty book, then on each book size; print the table and the verdict."""
    run = uuid.uuid4().hex[:8]
    log = Path(tempfile.gettempdir()) / f"redfire-restart-{run}.log"
    rows: list[tuple[str, float, int]] = []
    with scratch_database(f"redfire_restart_{run}") as database_url:
        from backend.core.database.migrations import upgrade

        upgrade(database_url)
        env = {**redfire_env(database_url, run), "REPLICA_ID": REPLICA}
        try:
            timed_start(env, log)  # creates the admin; warms the disk caches
            rows.append(("empty book (baseline)", timed_start(env, log), 0))
            for count in BOOKS:
                prefix = f"left-{count}-"
                asyncio.run(
                    _execute(database_url, LEAVE_OPEN, prefix=prefix, replica=REPLICA, count=count)
                )
                vacuum_analyze(database_url)
                seconds = timed_start(env, log)
                still_open = asyncio.run(_execute(database_url, OPEN))
                rows.append((f"{count:,} open orders left behind", seconds, still_open))
        finally:
            drop_redis_prefix(f"redfire-bench-{run}:")
    print("\nRestart of a PAPER replica, PostgreSQL, production settings, 1 worker")
    print(f"  RedFire's log: {log}")
    print(f"{'book':<34} {'start s':>8} {'added s':>8} {'still open':>11}")
    baseline = rows[0][1]
    for name, seconds, still_open in rows:
        print(f"{name:<34} {seconds:>8.2f} {seconds - baseline:>8.2f} {still_open:>11,}")
    twenty = next((row for row in rows if row[0].startswith("20,000")), None)
    ok = all(still_open == 0 for _, _, still_open in rows)
    if twenty is not None:
        added = twenty[1] - baseline
        print(
            f"  [{'ok' if added < 5 else 'MISS'}] 20,000 orders add < 5 s to a start ({added:.2f})"
        )
        ok = ok and added < 5
    print(f"  [{'ok' if ok else 'MISS'}] every order settled (none left open)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
