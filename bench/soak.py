"""Soak: a steady order stream against one server on PostgreSQL + Redis (`make soak`).

Sends SOAK_RATE market orders per second (default 200: half of the ~400 market orders/s
`bench_orders` measures for one server, each filled and booked into trades, positions and the
account) for SOAK_SECONDS (default 600), alternating buys and sells so the position stays flat,
with the PAPER market ticking every second. The load comes from a lean keep-alive client
(`bench/loopback_http.py`): httpx costs more CPU per request than the server does. Reports
errors, the server's RSS after warm-up and at the end, and p50/p99 latency per minute; exits 1
on any error or on more than SOAK_MAX_GROWTH_PCT (default 10) RSS growth.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.loopback_http import LoopbackHTTP
from bench.support import REDIS_URL, drop_redis_prefix, free_port, scratch_database

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
RATE = float(os.environ.get("SOAK_RATE", "200"))
WARMUP = float(os.environ.get("SOAK_WARMUP_SECONDS", str(min(60.0, SECONDS / 10))))
MAX_GROWTH_PCT = float(os.environ.get("SOAK_MAX_GROWTH_PCT", "10"))
MAX_IN_FLIGHT = 64
PASSWORD = "soak-password-123"


@dataclass
class Minute:
    """What one minute of the soak saw."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000


def start_server(
    database_url: str, port: int, workdir: Path, prefix: str
) -> subprocess.Popen[bytes]:
    """`redfire serve` in production mode, limits out of the way."""
    env = {
        **os.environ,
        "HOME": str(workdir),
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "REDIS__KEY_PREFIX": prefix,
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "WARNING",
        "ADMIN__USERNAME": "soak",
        "ADMIN__PASSWORD": PASSWORD,
        "RISK__MAX_ORDERS_PER_SECOND": "1000000",
        "RISK__MAX_OPEN_ORDERS": "100000000",
        # Funded for every order the run places (each holds its notional): accepted, not
        # rejected for buying power.
        "RISK__PAPER_INITIAL_BALANCE": "1000000000000000",
        "VNPY__PAPER_TICK_INTERVAL": "1",
    }
    command = [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, cwd=workdir, stdout=subprocess.DEVNULL)


async def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    """Poll /health/ready for up to a minute."""
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                if (await http.get("/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server not ready within 60 s")


BODIES = {
    side: json.dumps(
        {"symbol": "IF2412.CFFEX", "side": side, "order_type": "market", "quantity": 1}
    ).encode()
    for side in ("BUY", "SELL")
}


async def place(http: LoopbackHTTP, headers: dict[str, str], side: str, minute: Minute) -> None:
    """One market order; anything but a 201 that filled counts as an error."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(10):
            status, raw = await http.request("POST", "/api/v1/orders", headers, BODIES[side])
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, TimeoutError) as exc:
        minute.errors[type(exc).__name__] += 1
        return
    minute.latencies.append(time.perf_counter() - started)
    order = json.loads(raw)
    if status != 201:
        minute.errors[f"http {status}"] += 1
    elif order["status"] == "rejected":
        minute.errors[f"rejected {order['reject_reason']}"] += 1


async def vacuum_like_production(database_url: str) -> None:
    """Stand in for autovacuum when the server has it off, as these machines' PostgreSQL does.

    Production PostgreSQL vacuums on its own; without it every order's superseded row versions
    stay in the indexes and each lookup walks more of them, a slope that is not the app's.
    """
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            if (await connection.execute(text("SHOW autovacuum"))).scalar() == "on":
                return
            print("server has autovacuum off: the soak vacuums every 60 s instead", flush=True)
            while True:
                await asyncio.sleep(60)
                await connection.execute(text("VACUUM (ANALYZE)"))
    finally:
        await engine.dispose()


async def soak(base: str, pid: int, database_url: str) -> int:
    """Drive the load at a fixed rate, print the report; the exit status."""
    maintenance = asyncio.create_task(vacuum_like_production(database_url))
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        login = await client.post(
            "/api/v1/auth/login", data={"username": "soak", "password": PASSWORD}
        )
    headers = {
        "Authorization": f"Bearer {login.json()['access_token']}",
        "Content-Type": "application/json",
    }
    port = int(base.rsplit(":", 1)[1])
    http = LoopbackHTTP("127.0.0.1", port, MAX_IN_FLIGHT)
    try:
        minutes: list[Minute] = []
        tasks: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        rss_start = rss_after_warmup = rss_kib(pid)
        warmed = False
        sent = 0
        while (elapsed := time.monotonic() - started) < SECONDS:
            index = int(elapsed // 60)
            while len(minutes) <= index:
                minutes.append(Minute())
            if not warmed and elapsed >= WARMUP:
                rss_after_warmup, warmed = rss_kib(pid), True
            side = "BUY" if sent % 2 == 0 else "SELL"
            task = asyncio.create_task(place(http, headers, side, minutes[index]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
            # Open loop: the next order is due at a fixed time, however slow the last one was.
            await asyncio.sleep(max(0.0, started + sent / RATE - time.monotonic()))
        await asyncio.gather(*tasks)
        rss_end = rss_kib(pid)
    finally:
        maintenance.cancel()
        await asyncio.gather(maintenance, return_exceptions=True)
        await http.close()
    return report(minutes, sent, rss_start, rss_after_warmup, rss_end)


def report(minutes: list[Minute], sent: int, rss_start: int, rss_warm: int, rss_end: int) -> int:
    """Print the soak's figures; 1 if it failed its limits."""
    errors: Counter[str] = Counter()
    print(f"\nsoak: {sent} orders at {RATE:g}/s for {SECONDS:g} s (warm-up {WARMUP:g} s)")
    print(f"{'minute':>6} {'orders':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    p99s = []
    for number, minute in enumerate(minutes, 1):
        errors.update(minute.errors)
        if minute.latencies:
            p99s.append(percentile(minute.latencies, 99))
            print(
                f"{number:>6} {len(minute.latencies):>7} {percentile(minute.latencies, 50):>8.1f} "
                f"{p99s[-1]:>8.1f} {sum(minute.errors.values()):>7}"
            )
    growth = (rss_end - rss_warm) * 100 / rss_warm
    print(
        f"RSS: start {rss_start / 1024:.1f} MiB, after warm-up {rss_warm / 1024:.1f} MiB, "
        f"end {rss_end / 1024:.1f} MiB: growth {growth:+.1f} % (limit {MAX_GROWTH_PCT:g} %)"
    )
    if p99s:
        print(
            f"p99 per minute: min {min(p99s):.1f} ms, median {statistics.median(p99s):.1f} ms, "
            f"max {max(p99s):.1f} ms"
        )
    print(f"errors: {sum(errors.values())} {dict(errors) if errors else ''}")
    return 1 if errors or growth > MAX_GROWTH_PCT else 0


def main() -> int:
    """Create a scratch database, serve, soak, tear down."""
    from backend.core.database.migrations import upgrade

    run = uuid.uuid4().hex[:8]
    with (
        tempfile.TemporaryDirectory(prefix="redfire-soak-") as home,
        scratch_database(f"redfire_soak_{run}") as database_url,
    ):
        workdir = Path(home)
        upgrade(database_url)
        port = free_port()
        prefix = f"redfire-soak-{run}:"
        process = start_server(database_url, port, workdir, prefix)
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(wait_ready(base, process))
            return asyncio.run(soak(base, process.pid, database_url))
        finally:
            process.terminate()
            process.wait(timeout=60)
            drop_redis_prefix(prefix)


if __name__ == "__main__":
    raise SystemExit(main())
