"""Benchmark: PAPER ticks -> bridge -> publisher -> event bus -> hub -> N WebSocket clients.

Run: .venv/bin/python bench/bench_ws.py [--clients 10] [--seconds 3] [--rates 500,2000,5000]
     [--redis redis://127.0.0.1:6379/0]

The application runs in this process on a real uvicorn server (uvloop, SQLite, the memory
bus, or the Redis bus with --redis); the clients run in a second process, each subscribed
to one symbol. A thread injects ticks at each rate (paced in 1 ms slices), then as fast as
it can (burst). Latency is from the tick's timestamp (set when it is injected) to its
arrival at a client. Ticks of a symbol are conflated when the publisher falls behind, so
"delivered" can be below "injected" in the burst row: that is by design, not loss.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path

import uvicorn
import uvloop
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.core.database.migrations import upgrade
from backend.core.monitoring.logging import configure_logging
from backend.main import create_app
from backend.models.enums import UserRole
from backend.server import uvicorn_options
from backend.services.users import UserService

SYMBOL = "IF2412.CFFEX"
PRICES = [Decimal("3500.0") + Decimal("0.2") * i for i in range(50)]
SLICE = 0.001
Arrivals = list[tuple[float, float]]  # (tick timestamp, arrival time), wall clock
Phase = tuple[str, int, float, tuple[float, float]]  # name, ticks, seconds, time window


async def _client(url: str, ready: asyncio.Event, arrivals: Arrivals) -> None:
    async with connect(url, max_size=None, open_timeout=30) as ws:
        await ws.send(f'{{"op": "subscribe", "topics": ["tick:{SYMBOL}"]}}')
        await ws.recv()  # the `subscribed` answer
        ready.set()
        marker = '"datetime":"'
        try:
            async for raw in ws:
                now = time.time()
                text = str(raw)
                start = text.find(marker) + len(marker)
                moment = datetime.fromisoformat(text[start : text.index('"', start)])
                arrivals.append((moment.timestamp(), now))
        except ConnectionClosed:
            return


async def _clients(url: str, count: int, pipe: Connection) -> None:
    arrivals: list[Arrivals] = [[] for _ in range(count)]
    readies = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(_client(url, readies[i], arrivals[i])) for i in range(count)]
    await asyncio.gather(*(ready.wait() for ready in readies))
    pipe.send("ready")
    await asyncio.gather(*tasks)
    pipe.send(arrivals)


def client_process(url: str, count: int, pipe: Connection) -> None:
    """The clients' process: connect, subscribe, record every arrival until closed."""
    gc.disable()  # the arrivals grow to many tuples: full collections would show as latency
    uvloop.run(_clients(url, count, pipe))


def produce(container: AppContainer, ticks: int, rate: float | None) -> None:
    """Inject `ticks` ticks at `rate` per second, checked every 1 ms, or as fast as possible."""
    paper = container.trading.market.paper_gateway(SYMBOL)
    began = time.perf_counter()
    sent = 0
    while sent < ticks:
        due = ticks if rate is None else min(ticks, int(rate * (time.perf_counter() - began)) + 1)
        for n in range(sent, due):
            paper.inject_tick(SYMBOL, last_price=PRICES[n % 50], moment=datetime.now(UTC))
        sent = due
        if sent < ticks:
            time.sleep(SLICE)  # load shaping of the generator, not synchronisation


def bench_config(database_url: str, redis_url: str | None) -> AppConfig:
    """SQLite, no generated ticks, the bus given by --redis."""
    return AppConfig(
        _env_file=None,
        environment="test",
        log_level="WARNING",
        database={"url": database_url},
        redis={"url": redis_url, "key_prefix": f"redfire-bench-{uuid.uuid4().hex[:8]}:"},
        security={"secret_key": "bench-secret-key-that-is-long-enough-0123456789"},
        vnpy={"paper_tick_interval": 0, "event_queue_size": 1_000_000},
        # Every client connects from loopback at once: none may be refused while authenticating.
        stream={"ws_queue_size": 100_000, "ws_max_pending_per_client": 10_000},
    )


async def user_token(container: AppContainer) -> str:
    """An access token of a fresh trader."""
    async with container.database.session() as session:
        user = await UserService(container.security.passwords).create(
            session,
            username="bench",
            email="bench@example.com",
            password="bench-pass-123",
            role=UserRole.TRADER,
        )
    return container.security.tokens.issue(user_id=user.id, version=user.token_version).access_token


def row(
    name: str, injected: int, seconds: float, phase: list[Arrivals], window: tuple[float, float]
) -> str:
    """One line of the table for the arrivals of ticks made within `window`."""
    start, end = window
    mine = [[(t, a) for t, a in arrivals if start <= t <= end] for arrivals in phase]
    delivered = sum(len(m) for m in mine)
    latencies = sorted((a - t) * 1000 for m in mine for t, a in m)
    if not latencies:
        return f"{name:<10} {injected:>8} {'-':>12}"
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    # Until the last of this phase's ticks arrived: a burst is delivered after it is made.
    span = max(seconds, max(a for m in mine for _, a in m) - start)
    return (
        f"{name:<10} {injected:>8} {injected / seconds:>9.0f} {delivered / len(phase):>10.0f} "
        f"{delivered / len(phase) / span:>11.0f} {delivered / span:>9.0f} "
        f"{statistics.median(latencies):>7.2f} {p99:>7.2f} {latencies[-1]:>7.2f}"
    )


async def run_phases(
    container: AppContainer, rates: list[float | None], seconds: float
) -> list[Phase]:
    """Inject at every rate; the time window of each phase's ticks."""
    phases = []
    for rate in rates:
        ticks = 50_000 if rate is None else int(rate * seconds)
        start = time.time()
        began = time.perf_counter()
        await asyncio.to_thread(produce, container, ticks, rate)
        took = time.perf_counter() - began
        end = time.time()
        phases.append(("burst" if rate is None else f"{rate:.0f}/s", ticks, took, (start, end)))
        await asyncio.sleep(1.0)  # let the phase's tail arrive before the next one starts
    return phases


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[int]:
    """uvicorn serving the started `app` in this loop on a free loopback port, as `redfire
    serve` would configure it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    options = uvicorn_options(app.state.container.config)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", loop="none", **options)
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.force_exit = True
        await server.shutdown(sockets=[sock])


async def measure(
    app: FastAPI, clients: int, seconds: float, rates: list[float | None]
) -> tuple[list[Phase], list[Arrivals]]:
    """Run the clients' process against the served app while ticks are injected."""
    container: AppContainer = app.state.container
    token = await user_token(container)
    async with served(app) as port:
        url = f"ws://127.0.0.1:{port}/api/v1/ws?token={token}"
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(target=client_process, args=(url, clients, theirs))
        process.start()
        assert await asyncio.to_thread(ours.recv) == "ready"
        phases = await run_phases(container, rates, seconds)
        await container.stream.hub.stop()  # closes the clients: they send what they saw
        arrivals: list[Arrivals] = await asyncio.to_thread(ours.recv)
        process.join()
    return phases, arrivals


async def main(
    clients: int, seconds: float, rates: list[float | None], redis_url: str | None
) -> None:
    """Start the app, measure, print the table."""
    configure_logging("WARNING", json_logs=False)
    with tempfile.TemporaryDirectory() as scratch:
        database_url = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
        await asyncio.to_thread(upgrade, database_url)
        app = create_app(bench_config(database_url, redis_url))
        async with app.router.lifespan_context(app):
            phases, arrivals = await measure(app, clients, seconds, rates)
    bus = "redis" if redis_url else "memory"
    print(f"{clients} WebSocket clients on one symbol, {bus} bus, uvloop, one server process")
    print(
        f"{'rate':<10} {'injected':>8} {'inj/s':>9} {'delivered':>10} {'ticks/s':>11} "
        f"{'msgs/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    )
    print(f"{'':<10} {'':>8} {'':>9} {'per client':>10} {'per client':>11} {'all':>9}")
    for name, injected, took, window in phases:
        print(row(name, injected, took, arrivals, window))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rates", default="500,2000,5000")
    parser.add_argument("--redis", default=None, help="use the Redis bus at this URL")
    args = parser.parse_args()
    rates: list[float | None] = [float(rate) for rate in args.rates.split(",")]
    rates.append(None)
    uvloop.run(main(args.clients, args.seconds, rates, args.redis))
