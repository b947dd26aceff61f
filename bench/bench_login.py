"""Benchmark: login latency with production Argon2 parameters, alone and under concurrent load.

Run: .venv/bin/python bench/bench_login.py [--logins N] [--concurrency C]

Starts a real uvicorn server on a free loopback port (SQLite, in-memory cache, production
Argon2id parameters: the SecurityConfig defaults) and measures POST /api/v1/auth/login p50/p99,
first alone, then while C other clients loop on GET /api/v1/users/me. It does the same against a
baseline server that hashes ON the event loop, to show what offloading buys: there, every login
freezes every other request for the length of a hash.
Results: a table on stdout, JSON in bench/results/login.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")
USERNAME = "bench"
PASSWORD = "bench-login-password"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
TARGET_P50_MS = 300.0
RESULTS = Path(__file__).resolve().parent / "results" / "login.json"


@dataclass
class Row:
    """One line of the table."""

    hashing: str
    load: str
    login_p50_ms: float
    login_p99_ms: float
    other_p50_ms: float | None
    other_p99_ms: float | None
    other_requests: int
    other_errors: int


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return round(ordered[index] * 1000, 1)


def serve(port: int, database_url: str, on_loop: bool) -> None:
    """The server process: the real app, optionally with hashing forced onto the event loop."""
    import uvicorn

    from backend.core.config import AppConfig
    from backend.core.security.passwords import PasswordHasher
    from backend.main import create_app

    class OnLoopHasher(PasswordHasher):
        """The baseline: Argon2 runs in the event loop's thread, blocking everything."""

        async def _run(self, function: Callable[..., T], *args: object) -> T:
            return function(*args)

    config = AppConfig(
        _env_file=None,  # type: ignore[call-arg]
        environment="development",
        log_level="WARNING",
        database={"url": database_url},
        redis={"url": None},
        # Argon2 parameters: the production defaults. Every login comes from loopback: the
        # per-address limit would turn the measured logins into 429s.
        security={"secret_key": SECRET, "login_ip_rate_limit": 100_000},
        admin={"username": USERNAME, "password": PASSWORD, "email": "bench@example.com"},
        vnpy={"paper_tick_interval": 0},
    )
    app = create_app(config)
    if on_loop:
        app.state.container.security.passwords = OnLoopHasher(config.security)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_ready(base_url: str, process: asyncio.subprocess.Process) -> None:
    """Poll /health/ready until the server answers 200."""
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base_url) as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError("the server exited during start-up")
            try:
                if (await http.get("/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready within 60 s")


async def timed_login(http: httpx.AsyncClient) -> float:
    """One login; its latency in seconds."""
    started = time.perf_counter()
    response = await http.post(
        "/api/v1/auth/login", data={"username": USERNAME, "password": PASSWORD}
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


async def measure(
    http: httpx.AsyncClient, logins: int, concurrency: int
) -> tuple[list[float], list[float], list[int]]:
    """Sequential logins while `concurrency` clients loop on GET /users/me."""
    token = (
        await http.post("/api/v1/auth/login", data={"username": USERNAME, "password": PASSWORD})
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    other: list[float] = []
    errors: list[int] = []
    stop = asyncio.Event()

    async def background() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            response = await http.get("/api/v1/users/me", headers=headers)
            other.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors.append(response.status_code)

    workers = [asyncio.create_task(background()) for _ in range(concurrency)]
    await asyncio.sleep(0.2 if concurrency else 0)  # let the load reach a steady state
    login_samples = [await timed_login(http) for _ in range(logins)]
    stop.set()
    await asyncio.gather(*workers)
    return login_samples, other, errors


@asynccontextmanager
async def server(database_url: str, on_loop: bool, log_path: Path) -> AsyncIterator[str]:
    """A uvicorn server process on a free loopback port; yields its base URL."""
    port = free_port()
    command = [sys.executable, __file__, "--serve", str(port), "--database-url", database_url]
    if on_loop:
        command.append("--on-loop")
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, env={**os.environ, "LOG_LEVEL": "ERROR"}, stdout=log, stderr=log
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(base_url, process)
        except RuntimeError:
            print((await asyncio.to_thread(log_path.read_text))[-4000:], file=sys.stderr)
            raise
        yield base_url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)


async def run_mode(
    database_url: str, on_loop: bool, logins: int, concurrency: int, log_path: Path
) -> list[Row]:
    """Start one server, measure alone and under load, stop it."""
    hashing = "ON the event loop (baseline)" if on_loop else "thread pool (RedFire)"
    rows: list[Row] = []
    limits = httpx.Limits(
        max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2
    )
    async with (
        server(database_url, on_loop, log_path) as base_url,
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http,
    ):
        for _ in range(3):
            await timed_login(http)  # warm-up: pools, dummy hash, imports
        for load in (0, concurrency):
            login_samples, other, errors = await measure(http, logins, load)
            rows.append(
                Row(
                    hashing=hashing,
                    load="alone" if load == 0 else f"+{load} concurrent GET /users/me",
                    login_p50_ms=percentile(login_samples, 0.50),
                    login_p99_ms=percentile(login_samples, 0.99),
                    other_p50_ms=percentile(other, 0.50) if other else None,
                    other_p99_ms=percentile(other, 0.99) if other else None,
                    other_requests=len(other),
                    other_errors=len(errors),
                )
            )
    return rows


def print_table(rows: list[Row]) -> None:
    """The results, one row per (hashing, load)."""
    header = (
        f"{'hashing':<30} {'load':<30} {'login p50':>10} {'login p99':>10} "
        f"{'other p50':>10} {'other p99':>10} {'other n':>8} {'errors':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        other_p50 = "-" if row.other_p50_ms is None else f"{row.other_p50_ms:.1f}"
        other_p99 = "-" if row.other_p99_ms is None else f"{row.other_p99_ms:.1f}"
        print(
            f"{row.hashing:<30} {row.load:<30} {row.login_p50_ms:>10.1f} "
            f"{row.login_p99_ms:>10.1f} {other_p50:>10} {other_p99:>10} {row.other_requests:>8} "
            f"{row.other_errors:>7}"
        )
    print("(latencies in ms)")


async def bench(logins: int, concurrency: int) -> int:
    """Both servers, the table, the verdict."""
    from backend.core.config.settings import SecurityConfig
    from backend.core.database.migrations import upgrade

    with tempfile.TemporaryDirectory(prefix="redfire-bench-") as directory:
        database_url = f"sqlite+aiosqlite:///{directory}/bench.db"
        await asyncio.to_thread(upgrade, database_url)
        log_path = Path(directory) / "server.log"
        rows = await run_mode(database_url, False, logins, concurrency, log_path)
        rows += await run_mode(database_url, True, logins, concurrency, log_path)
    params = SecurityConfig()
    print(
        f"login benchmark: {logins} sequential logins per row; production Argon2id "
        f"t={params.argon2_time_cost} m={params.argon2_memory_cost} KiB "
        f"p={params.argon2_parallelism}; {os.cpu_count()} CPUs; SQLite, in-memory cache"
    )
    print_table(rows)
    loaded = rows[1]
    verdict = loaded.login_p50_ms < TARGET_P50_MS
    print(
        f"{'PASS' if verdict else 'FAIL'}: login p50 with {concurrency} concurrent requests = "
        f"{loaded.login_p50_ms:.1f} ms (target < {TARGET_P50_MS:.0f} ms)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    return 0 if verdict else 1


def main() -> int:
    """Parse arguments; either run the benchmark or be its server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--logins", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--on-loop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.database_url, args.on_loop)
        return 0
    return asyncio.run(bench(args.logins, args.concurrency))


if __name__ == "__main__":
    raise SystemExit(main())
