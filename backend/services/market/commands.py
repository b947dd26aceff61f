"""`redfire import-bars`: bars into market history from a CSV file or a vnpy database.

    redfire import-bars bars.csv --symbol rb2501.SHFE [--interval 1m]
    redfire import-bars --from-vnpy sqlite:///path/to/database.db [--symbol rb2501.SHFE ...]
    redfire import-bars --from-vnpy postgresql://user@host/vnpy [--timezone Asia/Shanghai]

All or nothing, as over REST: exit 0 and one line per symbol and interval imported; exit 1
naming the bad lines (rows), and nothing is stored.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend.core.cache.factory import create_cache
from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import RedFireError
from backend.services.market.chunks import SYMBOL, ChunkSource
from backend.services.market.csv_source import CsvSource
from backend.services.market.importer import BarImporter, ImportedSeries
from backend.services.market.intervals import BarInterval
from backend.services.market.pages import BarPages
from backend.services.market.partitions import Partitions
from backend.services.market.reading import BarReader
from backend.services.market.vnpy_database import VnpyBarSource


def vnpy_timezone() -> str:
    """vnpy's `database.timezone` setting: the zone its databases keep datetimes in."""
    from vnpy.trader.setting import SETTINGS

    return str(SETTINGS["database.timezone"])


def import_bars_command(
    config: AppConfig,
    *,
    path: str | None,
    symbols: Sequence[str],
    interval: str,
    vnpy_url: str | None,
    timezone: str | None,
) -> int:
    """Run one import; the exit code."""
    try:
        source_factory, describe = _source(path, symbols, interval, vnpy_url, timezone)
    except ValueError as exc:
        print(f"redfire: import-bars: {exc}", file=sys.stderr)
        return 2
    try:
        imported = asyncio.run(_import(config, source_factory))
    except RedFireError as exc:
        print(f"redfire: import-bars: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        describe()
    for series in imported:
        print(
            f"imported {series.bars} {series.interval} bars of {series.symbol}"
            f" from {series.first.isoformat()} to {series.last.isoformat()}"
        )
    if not imported:
        print("imported nothing: no bars matched")
    return 0


def _source(
    path: str | None,
    symbols: Sequence[str],
    interval: str,
    vnpy_url: str | None,
    timezone: str | None,
) -> tuple[Callable[[], ChunkSource], Callable[[], None]]:
    bad = [symbol for symbol in symbols if not SYMBOL.match(symbol)]
    if bad:
        raise ValueError(f"not a vt_symbol (SYMBOL.EXCHANGE): {', '.join(bad)}")
    if vnpy_url is not None:
        if path is not None:
            raise ValueError("give a CSV file or --from-vnpy, not both")
        try:
            zone = ZoneInfo(timezone or vnpy_timezone())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {timezone!r}") from None
        sources: list[VnpyBarSource] = []

        def open_vnpy() -> ChunkSource:
            sources.append(VnpyBarSource(vnpy_url, timezone=zone, symbols=symbols))
            return sources[-1]

        def describe_vnpy() -> None:
            print(f"vnpy datetimes read as {zone.key}")
            if sources and sources[-1].skipped:
                print(f"skipped {sources[-1].skipped} bars of other intervals (weekly)")

        return open_vnpy, describe_vnpy
    if path is None:
        raise ValueError("give a CSV file, or --from-vnpy URL")
    if len(symbols) != 1:
        raise ValueError("a CSV file holds one symbol: give exactly one --symbol")
    try:
        bar_interval = BarInterval(interval)
    except ValueError:
        raise ValueError(f"unknown interval {interval!r}") from None
    if not bar_interval.stored:
        raise ValueError("bars are imported at 1m, 1h or 1d")
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"no such file {path}")
    streams: list[BinaryIO] = []

    def open_csv() -> ChunkSource:
        for stream in streams:
            stream.close()
        streams.append(file.open("rb"))
        return CsvSource(streams[-1], symbol=symbols[0], interval=bar_interval)

    def close_csv() -> None:
        for stream in streams:
            stream.close()

    return open_csv, close_csv


async def _import(
    config: AppConfig, open_source: Callable[[], ChunkSource]
) -> list[ImportedSeries]:
    database = AsyncDatabaseManager(config.database)
    # With Redis, servers keeping pages of these symbols see the import at once.
    cache = create_cache(config.redis)
    try:
        pages = BarPages(BarReader(database), cache)
        importer = BarImporter(database, Partitions(database), pages)
        return await importer.run(open_source)
    finally:
        await cache.close()
        await database.dispose()
