"""Shared pieces of the benchmarks: servers on loopback, wrk runs, a throwaway database."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_wrk() -> str:
    """wrk from Debian's packages, installed when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


async def _admin(*statements: str, url: str = ADMIN_URL) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one benchmark run, dropped afterwards."""
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def vacuum_analyze(database_url: str) -> None:
    """What autovacuum would have done by now: statistics and a visibility map for each table.

    PostgreSQL's default runs autovacuum, which analyzes and vacuums a table as it grows; the
    server on the development machines runs without it. Never analyzed, the planner keeps
    plans made for empty tables (sequential scans of `orders` on every gateway event), which
    measures a misconfigured server rather than RedFire. Run once after a scenario's warm-up.
    """
    asyncio.run(_admin("VACUUM ANALYZE", url=database_url))


def drop_redis_prefix(prefix: str) -> None:
    """Delete every key a benchmark wrote under its own prefix."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
    finally:
        client.close()


@dataclass(frozen=True)
class Served:
    """A server under test: its base URL and its process (for the CPU it spends)."""

    base: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat").read_text())


def quiesce(target: Served, *, timeout: float = 15.0) -> None:
    """Wait until `target` is done with what a run left it: the requests whose clients
    stopped waiting are still served (a slow server's queue, for up to a second or more),
    and would load whatever is measured next. Done: under 5 % of a core for 0.25 s."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(target.pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_seconds(target.pid)
        if now - before < 0.0125:
            return
        before = now
    raise RuntimeError(f"{target.base} still busy after {timeout:.0f} s")


def _stat_cpu_seconds(stat: str) -> float:
    """User + system CPU time of a /proc/<pid>/stat line."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine so far (0 when none is local).

    A backend that exits takes its CPU time with it; the servers under test keep their pooled
    connections open through a run, so their backends' time is all counted.
    """
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # it exited meanwhile
        name = text[text.find("(") + 1 : text.rfind(")")]
        if name == "postgres" or name.startswith("postgres:"):
            total += _stat_cpu_seconds(text)
    return total


@contextmanager
def server(
    app: str, env: dict[str, str], port: int, *, log: Path | None = None
) -> Iterator[Served]:
    """`uvicorn app` with one worker on loopback, once it answers.

    The app's log lines (stderr) go to `log` when given, as a deployment would collect them.
    """
    command = [
        str(BIN / "uvicorn"),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    stderr = log.open("ab") if log is not None else None
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{app} exited with {process.returncode}")
            try:
                # Any answer means the app finished its start-up (uvicorn serves only then);
                # production answers /openapi.json with 404 (docs are off there).
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not start")
            time.sleep(0.1)
        yield Served(base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)
        if stderr is not None:
            stderr.close()


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    non_2xx: int = 0
    timeouts: int = 0
    # The server's CPU time per answered request: unlike req/s, barely moved by other
    # processes competing for the same cores.
    cpu_us: float = 0.0
    # PostgreSQL's (every local postgres process) per answered request: it shares the cores.
    db_cpu_us: float = 0.0
    # The latency (ms) at each 0.1 % from 0.1 to 99.9, when the script reports them.
    latencies: tuple[float, ...] = ()


def run_wrk(
    target: Served, script: str, env: dict[str, str], *, seconds: int, connections: int = 64
) -> WrkResult:
    """Run wrk (one thread, as the issues measured: a second would take a core from the
    server on this two-core machine) with a Lua script against `target`; errors include
    non-2xx answers."""
    command = [
        ensure_wrk(),
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(ROOT / "bench" / "lua" / script),
        target.base,
    ]
    cpu_before, db_before = cpu_seconds(target.pid), postgres_cpu_seconds()
    output = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=True
    ).stdout
    cpu = cpu_seconds(target.pid) - cpu_before
    db_cpu = postgres_cpu_seconds() - db_before
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    rps, p50, p99, errors, requests, non_2xx, timeouts = line.split()[1:]
    reported = [line for line in output.splitlines() if line.startswith("LATENCIES")]
    latencies = tuple(float(value) for value in reported[0].split()[1:]) if reported else ()
    answered = max(int(requests), 1)
    return WrkResult(
        float(rps),
        float(p50),
        float(p99),
        int(errors),
        int(requests),
        int(non_2xx),
        int(timeouts),
        cpu / answered * 1e6,
        db_cpu / answered * 1e6,
        latencies,
    )


def combined(slices: list[WrkResult]) -> WrkResult:
    """Several wrk runs against one server as one row: req/s over their total time, errors
    and requests summed, CPU per request over all requests, and p50 / p99 of their latencies
    merged (each slice's distribution weighted by its requests; the worse slice's when a
    script reports no distribution)."""
    requests = sum(s.requests for s in slices)
    seconds = sum(s.requests / s.requests_per_second for s in slices if s.requests_per_second)
    answered = max(requests, 1)
    if all(s.latencies for s in slices):
        p50, p99 = merged_percentiles(slices, (50, 99))
    else:
        p50, p99 = max(s.p50_ms for s in slices), max(s.p99_ms for s in slices)
    return WrkResult(
        requests / seconds if seconds else 0.0,
        p50,
        p99,
        sum(s.errors for s in slices),
        requests,
        sum(s.non_2xx for s in slices),
        sum(s.timeouts for s in slices),
        sum(s.cpu_us * s.requests for s in slices) / answered,
        sum(s.db_cpu_us * s.requests for s in slices) / answered,
    )


def merged_percentiles(slices: list[WrkResult], percents: tuple[float, ...]) -> list[float]:
    """The latencies at `percents` of the slices' requests together: each slice's reported
    quantiles stand for an equal share of its requests."""
    weighted = sorted(
        (latency, s.requests / len(s.latencies)) for s in slices for latency in s.latencies
    )
    total = sum(weight for _, weight in weighted)
    found: list[float] = []
    for percent in percents:
        target, seen = total * percent / 100, 0.0
        value = weighted[-1][0]
        for latency, weight in weighted:
            seen += weight
            if seen >= target:
                value = latency
                break
        found.append(value)
    return found


def print_table(title: str, rows: list[tuple[str, WrkResult]]) -> None:
    """One table: scenario, req/s, p50, p99, errors, the server's and PostgreSQL's CPU per
    request."""
    print(f"\n{title}")
    header = f"{'scenario':<52} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    print(f"{header} {'non-2xx':>8} {'timeouts':>9} {'cpu us/req':>11} {'db us/req':>10}")
    for name, result in rows:
        print(
            f"{name:<52} {result.requests_per_second:>8,.0f} {result.p50_ms:>8.2f} "
            f"{result.p99_ms:>8.2f} {result.errors:>7} {result.non_2xx:>8} {result.timeouts:>9} "
            f"{result.cpu_us:>11,.0f} {result.db_cpu_us:>10,.0f}"
        )
