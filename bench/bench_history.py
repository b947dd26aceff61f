"""Market history benchmark: bulk import, serving bars, aggregation, backtests from storage.

Run with `make bench` or `.venv/bin/python -m bench.bench_history` (PostgreSQL on loopback,
BENCH_DATABASE_URL; wrk for the HTTP rows). Every row has its reference measured in the same
run on the same database:

- import: 1,000,000 and 2,000,000 one-minute bars from CSV files (parsed, checked, COPY, one
  transaction) and 1,000,000 again over stored ones (staged and merged); reference: the same
  1,000,000 rows, already parsed, by asyncpg's binary COPY into an unpartitioned table with
  the same primary key (no parsing, no checks: what PostgreSQL itself takes), and a plain
  executemany INSERT of 100,000 of them; and PostgreSQL's own ceiling for the import: the
  COPY text the import sends for those 1,000,000 bars, formatted beforehand, copied into
  market_bars in one transaction with nothing else to do (the import cannot beat it: the
  server reads every bar of one COPY on one core);
- GET /api/v1/market/bars, one day of minutes (1,440 bars), 16 connections (wrk); reference:
  FastAPI + SQLAlchemy ORM + pydantic serving the same rows (bench/baseline_bars_app.py);
- one year of minutes (525,600) as 1h bars in one request; reference: the same minutes read
  and aggregated in Python (what SQLite's path does);
- a backtest over 1,000,000 stored bars: time from the request's work (counting the bars,
  the job) to the strategy's first bar, and in all; reference: reading every bar first.

Targets (issue 19): import >= 200,000 bars/s; GET p99 < 20 ms; 1 year to 1h < 500 ms; first
bar < 2 s. Results: the table, and JSON in bench/results/history.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np

from backend.core.cache.memory import MemoryCache
from backend.core.config.settings import DatabaseConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.migrations import upgrade
from backend.domain.market import TickSnapshot
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestEngine
from backend.services.backtest.history_feed import BarChunk, HistoryFeed
from backend.services.market.csv_source import CsvSource
from backend.services.market.importer import COPY_COLUMNS, BarImporter, copy_text
from backend.services.market.intervals import BarInterval
from backend.services.market.pages import BarPages
from backend.services.market.paging import BarRequest
from backend.services.market.partitions import Partitions
from backend.services.market.reading import BarReader
from backend.services.market.sqlite_reading import aggregate_rows
from backend.services.strategy.moving_average import (
    MovingAverageParameters,
    MovingAverageStrategy,
)
from bench.bench_orders import PASSWORD, redfire_env
from bench.support import (
    drop_redis_prefix,
    free_port,
    run_wrk,
    scratch_database,
    server,
    vacuum_analyze,
)

RESULTS = Path(__file__).resolve().parent / "results" / "history.json"
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
START = datetime(2022, 1, 1, tzinfo=UTC)
SYMBOL, SECOND_SYMBOL = "rb2501.SHFE", "IF2412.CFFEX"
CEILING_SYMBOL = "ceiling.BENCH"


@dataclass
class Row:
    """One line of the table."""

    scenario: str
    value: float
    unit: str
    reference: str
    reference_value: float | None
    target: str
    ok: bool | None


def write_csv(path: Path, count: int, *, seed: int) -> None:
    """`count` one-minute bars from START: a walk on a 0.5 grid, volumes, turnover, OI."""
    rng = np.random.default_rng(seed)
    closes = 7000 + np.cumsum(rng.integers(-3, 4, size=count))
    opens = np.concatenate(([7000], closes[:-1]))
    highs = np.maximum(opens, closes) + rng.integers(0, 3, size=count)
    lows = np.minimum(opens, closes) - rng.integers(0, 3, size=count)
    volumes = rng.integers(0, 500, size=count)
    interest = 10_000 + np.cumsum(rng.integers(-5, 6, size=count))
    base = int(START.timestamp())
    with path.open("w") as out:
        out.write("datetime,open,high,low,close,volume,turnover,open_interest\n")
        for index in range(count):
            moment = datetime.fromtimestamp(base + 60 * index, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            o, h, lo, c = (opens[index] / 2, highs[index] / 2, lows[index] / 2, closes[index] / 2)
            volume = int(volumes[index])
            out.write(f"{moment},{o:g},{h:g},{lo:g},{c:g},{volume},{volume * c * 10:g},"
                      f"{interest[index]}\n")  # fmt: skip


async def timed(work: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def import_file(database: AsyncDatabaseManager, path: Path, symbol: str) -> float:
    importer = BarImporter(database, Partitions(database), None)
    with path.open("rb") as stream:

        def source() -> CsvSource:
            stream.seek(0)
            return CsvSource(stream, symbol=symbol, interval=BarInterval.MINUTE)

        return await timed(lambda: importer.run(source))


async def copy_ceiling(url: str, path: Path) -> float:
    """Seconds PostgreSQL alone takes to COPY the import's text for `path` into market_bars
    (its partitions exist: the fresh import made them), formatted beforehand."""
    with path.open("rb") as stream:
        source = CsvSource(stream, symbol=CEILING_SYMBOL, interval=BarInterval.MINUTE)
        texts = [copy_text(chunk) for chunk in source._produce()]
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        started = time.perf_counter()
        async with connection.transaction():
            await connection.execute("SET LOCAL TIME ZONE 'UTC'")
            for text in texts:

                async def once(text: bytes = text) -> AsyncIterator[bytes]:
                    yield text

                await connection.copy_to_table(
                    "market_bars", source=once(), columns=COPY_COLUMNS, format="text",
                    delimiter=",",
                )  # fmt: skip
        return time.perf_counter() - started
    finally:
        await connection.close()


def parsed_rows(path: Path, symbol: str) -> list[tuple[Any, ...]]:
    from backend.services.market.csv_bars import CsvBarReader

    with path.open("rb") as stream:
        return [(symbol, "1m", moment, *values) for _, moment, *values, _ in
                CsvBarReader(stream, max_bars=10**9)]  # fmt: skip


async def references(url: str, rows: list[tuple[Any, ...]]) -> tuple[float, float]:
    """(binary COPY of parsed rows, executemany INSERT of 100,000) into a plain table."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    columns = ["symbol", "interval", "datetime", "open", "high", "low", "close", "volume",
               "turnover", "open_interest"]  # fmt: skip
    try:
        for table in ("plain_copy", "plain_insert"):
            await connection.execute(
                f"CREATE TABLE {table} (LIKE market_bars INCLUDING DEFAULTS INCLUDING CONSTRAINTS,"
                " PRIMARY KEY (symbol, interval, datetime))"
            )
        started = time.perf_counter()
        await connection.copy_records_to_table("plain_copy", records=rows, columns=columns)
        copy_seconds = time.perf_counter() - started
        sample = rows[:100_000]
        marks = ", ".join(f"${n}" for n in range(1, 11))
        insert = f"INSERT INTO plain_insert ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        started = time.perf_counter()
        await connection.executemany(insert, sample)
        insert_seconds = (time.perf_counter() - started) * len(rows) / len(sample)
    finally:
        await connection.close()
    return copy_seconds, insert_seconds


async def aggregation(database: AsyncDatabaseManager) -> tuple[float, float, float, int]:
    """(seconds of one year as 1h in SQL, read again, the same in Python, buckets)."""
    reader = BarReader(database)
    pages = BarPages(reader, MemoryCache())
    end = START + timedelta(days=365)
    request = BarRequest(SYMBOL, BarInterval.HOUR, START, end, 10_000)
    times = [await timed(lambda: reader.page_json(request)) for _ in range(3)]
    await pages.page_json(request)
    again = await timed(lambda: pages.page_json(request))
    buckets = len(json.loads(await reader.page_json(request))["bars"])

    async def in_python() -> None:
        async with database.driver_connection() as driver:
            rows = await driver.fetch(
                "SELECT datetime, open::text, high::text, low::text, close::text, volume::text,"
                " turnover::text, open_interest::text FROM market_bars WHERE symbol = $1"
                " AND interval = '1m' AND datetime >= $2 AND datetime < $3 ORDER BY datetime",
                SYMBOL, START, end,
            )  # fmt: skip
        aggregate_rows(BarInterval.HOUR, (tuple(row) for row in rows))

    python = [await timed(in_python) for _ in range(2)]
    return statistics.median(times), again, statistics.median(python), buckets


class FirstBar(MovingAverageStrategy):
    """MovingAverageStrategy that notes when it sees its first bar."""

    first_bar: float | None = None

    async def on_tick(self, tick: TickSnapshot) -> None:
        if FirstBar.first_bar is None:
            FirstBar.first_bar = time.perf_counter()
        await super().on_tick(tick)


async def backtest(database: AsyncDatabaseManager, *, stream: bool) -> tuple[float, float, int]:
    """(seconds to the first bar, seconds in all, bars) of a backtest over 1,000,000 bars."""
    reader = BarReader(database)
    end = START + timedelta(minutes=1_000_000)
    parameters = MovingAverageParameters.model_validate(
        {"fast_window": 10, "slow_window": 20, "warmup_ticks": 100, "order_type": "limit"}
    )
    costs = CostModel(size=Decimal(10), pricetick=Decimal("0.5"), rate=Decimal("0.0001"))
    FirstBar.first_bar = None
    started = time.perf_counter()
    count = await reader.count(SYMBOL, BarInterval.MINUTE, START, end)
    feed: Any = HistoryFeed(reader, asyncio.get_running_loop(), symbol=SYMBOL,
                            interval=BarInterval.MINUTE, start=START, end=end)  # fmt: skip
    if not stream:  # the reference: every bar read before the first is replayed
        feed = await asyncio.to_thread(_drain, feed)
    bars = BarSeries.build(SYMBOL, [], ([], [], [], []), [])
    done = threading.Event()
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(BacktestEngine(costs).run(FirstBar, parameters, bars, feed))
        finally:
            done.set()

    thread = threading.Thread(target=run, name="bench-backtest")
    thread.start()
    await asyncio.to_thread(done.wait)  # meanwhile the feed reads on this loop
    thread.join()
    total = time.perf_counter() - started
    assert result, "the backtest failed"
    assert result[0].bar_count == count, "the backtest did not replay every bar"
    assert FirstBar.first_bar is not None
    return FirstBar.first_bar - started, total, count


def _drain(feed: HistoryFeed) -> list[BarChunk]:
    return list(feed)


def day_paths(prefix: str, first_day: int, days: int) -> list[str]:
    """Paths asking for one whole day of minutes each (1,440 bars), from day `first_day` on."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    paths = []
    for offset in range(first_day, first_day + days):
        day = START + timedelta(days=offset)
        paths.append(f"{prefix}symbol={SYMBOL}&start={day:{stamp}}"
                     f"&end={day + timedelta(days=1):{stamp}}&limit=1440")  # fmt: skip
    return paths


def http_rows(url: str, env_base: dict[str, str]) -> list[Row]:
    """wrk on RedFire's GET /market/bars and on the baseline, one day of minutes per request.

    RedFire as shipped (bench_orders.redfire_env: production on PostgreSQL + Redis, default
    pool and log level, the PAPER market ticking), not tuned for the run."""
    run = uuid.uuid4().hex[:8]
    env = redfire_env(url, run)
    try:
        return _http_rows(url, env, env_base)
    finally:
        drop_redis_prefix(env["REDIS__KEY_PREFIX"])


def _http_rows(url: str, env: dict[str, str], env_base: dict[str, str]) -> list[Row]:
    with server("backend.main:app", env, free_port()) as served:
        base = served.base
        login = {"username": "bench", "password": PASSWORD}
        token = httpx.post(f"{base}/api/v1/auth/login", data=login).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        # Days never read before: each page comes from PostgreSQL.
        cold = []
        for path in day_paths("/api/v1/market/bars?", 200, 30):
            started = time.perf_counter()
            answer = httpx.get(base + path, headers=headers)
            cold.append((time.perf_counter() - started) * 1000)
            assert len(answer.json()["bars"]) == 1440, answer.text[:200]
        one_day = day_paths("/api/v1/market/bars?", 100, 1)[0]
        same = {"BENCH_PATH": one_day, "BENCH_TOKEN": token}
        run_wrk(served, "get.lua", same, seconds=3, connections=16)
        ours = run_wrk(served, "get.lua", same, seconds=SECONDS, connections=16)
        month = {"BENCH_PATHS": " ".join(day_paths("/api/v1/market/bars?", 300, 30)),
                 "BENCH_TOKEN": token}  # fmt: skip
        run_wrk(served, "get_paths.lua", month, seconds=3, connections=16)
        turns = run_wrk(served, "get_paths.lua", month, seconds=SECONDS, connections=16)
    with server("bench.baseline_bars_app:app", {**env_base, "DATABASE_URL": url},
                free_port()) as served:  # fmt: skip
        base = served.base
        path = day_paths("/bars?", 100, 1)[0].replace("&limit=1440", "")
        assert len(httpx.get(base + path).json()) == 1440
        run_wrk(served, "get.lua", {"BENCH_PATH": path}, seconds=3, connections=16)
        theirs = run_wrk(served, "get.lua", {"BENCH_PATH": path}, seconds=SECONDS, connections=16)
    cold.sort()
    return [
        Row("GET /market/bars, one day, 16 conns: p99", ours.p99_ms, "ms",
            "FastAPI + ORM + pydantic p99", theirs.p99_ms, "< 20", ours.p99_ms < 20),
        Row("  the same: requests/s", ours.requests_per_second, "req/s",
            "FastAPI + ORM + pydantic", theirs.requests_per_second, "", None),
        Row("GET /market/bars, 30 days in turn, 16 conns: p99", turns.p99_ms, "ms",
            "", None, "< 20", turns.p99_ms < 20),
        Row("GET /market/bars, a day not read before: median", statistics.median(cold), "ms",
            "the slowest of 30", cold[-1], "", None),
    ]  # fmt: skip


async def storage_rows(url: str, workdir: Path) -> list[Row]:
    one, two = workdir / "one-million.csv", workdir / "two-million.csv"
    write_csv(one, 1_000_000, seed=1)
    write_csv(two, 2_000_000, seed=2)
    database = AsyncDatabaseManager(DatabaseConfig(url=url, pool_size=4))
    try:
        fresh = await import_file(database, one, SYMBOL)
        ceiling = await copy_ceiling(url, one)
        double = await import_file(database, two, SECOND_SYMBOL)
        overlapping = await import_file(database, one, SYMBOL)
        copy_seconds, insert_seconds = await references(url, parsed_rows(one, SYMBOL))
        await asyncio.to_thread(vacuum_analyze, url)  # what autovacuum would have done
        in_sql, kept, in_python, buckets = await aggregation(database)
        first, total, bars = await backtest(database, stream=True)
        first_all, total_all, _ = await backtest(database, stream=False)
    finally:
        await database.dispose()
    rate = 1_000_000 / fresh
    return [
        Row("import 1,000,000 bars (CSV, fresh)", rate, "bars/s",
            "binary COPY of parsed rows", 1_000_000 / copy_seconds, ">= 200,000", rate >= 200_000),
        Row("  reference: PostgreSQL alone, the import's COPY", 1_000_000 / ceiling, "bars/s",
            "% of it the import reaches", 100 * rate * ceiling / 1_000_000, "", None),
        Row("import 2,000,000 bars (CSV, fresh)", 2_000_000 / double, "bars/s",
            "executemany INSERT", 1_000_000 / insert_seconds, ">= 200,000",
            2_000_000 / double >= 200_000),
        Row("import 1,000,000 bars over stored ones", 1_000_000 / overlapping, "bars/s",
            "", None, "", None),
        Row(f"1 year of minutes as 1h ({buckets} bars)", in_sql * 1000, "ms",
            "read + aggregate in Python", in_python * 1000, "< 500", in_sql < 0.5),
        Row("  the same page again (kept)", kept * 1000, "ms", "", None, "", None),
        Row(f"backtest over {bars:,} stored bars: first bar", first, "s",
            "read every bar first", first_all, "< 2", first < 2),
        Row("  the same backtest in all", total, "s", "read every bar first", total_all, "",
            None),
    ]  # fmt: skip


def print_rows(rows: list[Row]) -> None:
    """The table."""
    print(f"\n{'scenario':<52} {'value':>12} {'unit':<7} {'reference':<30} {'ref':>12} "
          f"{'target':>11} ok")  # fmt: skip
    for row in rows:
        reference = "" if row.reference_value is None else f"{row.reference_value:>12,.1f}"
        mark = "" if row.ok is None else ("yes" if row.ok else "NO")
        print(f"{row.scenario:<52} {row.value:>12,.1f} {row.unit:<7} {row.reference:<30} "
              f"{reference:>12} {row.target:>11} {mark}", flush=True)  # fmt: skip


def main() -> int:
    run = uuid.uuid4().hex[:8]
    rows: list[Row] = []
    with scratch_database(f"redfire_bench_history_{run}") as url:
        work = Path(f"/tmp/redfire-bench-history-{run}")
        work.mkdir(parents=True, exist_ok=True)
        upgrade(url)
        try:
            rows += asyncio.run(storage_rows(url, work))
        finally:
            for file in work.iterdir():
                file.unlink()
            work.rmdir()
        print_rows(rows)  # the storage rows, in case the HTTP ones fail
        rows[6:6] = http_rows(url, dict(os.environ))
    print("\nall rows:")
    print_rows(rows)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps([asdict(row) for row in rows], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
