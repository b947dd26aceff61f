"""BarStore: recorded bars and ticks into the database, merged, in one statement per batch.

On PostgreSQL the merge of a recorded bar into a stored one (bar.py) runs inside
`INSERT ... ON CONFLICT DO UPDATE`, so replicas recording the same minute at the same time
merge row by row under PostgreSQL's locks. SQLite (one process) reads the stored bars of the
batch and merges them in Python, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, case, func, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.manager import AsyncDatabaseManager
from backend.models.market import MarketBar, MarketTick
from backend.services.market import rollups
from backend.services.market.bar import Bar, coalesce, merge
from backend.services.market.partitions import Partitions, month_of
from backend.services.vnpy.types import TickSnapshot

BAR_COLUMNS = (
    "symbol", "interval", "datetime", "open", "high", "low", "close",
    "volume", "turnover", "open_interest", "first_tick_at", "last_tick_at",
)  # fmt: skip
_KEY = ("symbol", "interval", "datetime")
BARS = cast(Table, MarketBar.__table__)
TICKS = cast(Table, MarketTick.__table__)
# Bound parameters per statement stay well under SQLite's and asyncpg's limits.
_ROWS_PER_STATEMENT = 2000


def bar_row(bar: Bar) -> dict[str, Any]:
    """A bar as the column values of its row."""
    return {name: getattr(bar, name) for name in BAR_COLUMNS}


def _bar(row: MarketBar) -> Bar:
    return Bar(*(getattr(row, name) for name in BAR_COLUMNS))


def _merge_on_conflict() -> postgresql.Insert:
    """bar.merge as the SET of PostgreSQL's ON CONFLICT (the table's columns are the stored
    bar's, `excluded` the incoming one's)."""
    table = BARS
    statement = postgresql.insert(table)
    new, old = statement.excluded, table.c
    imported_new = new.first_tick_at.is_(None)
    imported_old = old.first_tick_at.is_(None)
    disjoint = or_(new.first_tick_at > old.last_tick_at, new.last_tick_at < old.first_tick_at)
    earlier_new = new.first_tick_at < old.first_tick_at
    later_new = new.last_tick_at > old.last_tick_at

    def rule(name: str, recorded: ColumnElement[Any]) -> ColumnElement[Any]:
        return case((imported_new, new[name]), (imported_old, old[name]), else_=recorded)

    def summed(name: str) -> ColumnElement[Any]:
        return case((disjoint, old[name] + new[name]), else_=func.greatest(old[name], new[name]))

    return statement.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={
            "open": rule("open", case((earlier_new, new.open), else_=old.open)),
            "high": rule("high", func.greatest(old.high, new.high)),
            "low": rule("low", func.least(old.low, new.low)),
            "close": rule("close", case((later_new, new.close), else_=old.close)),
            "volume": rule("volume", summed("volume")),
            "turnover": rule("turnover", summed("turnover")),
            "open_interest": rule(
                "open_interest", case((later_new, new.open_interest), else_=old.open_interest)
            ),
            "first_tick_at": rule(
                "first_tick_at", func.least(old.first_tick_at, new.first_tick_at)
            ),
            "last_tick_at": rule("last_tick_at", func.greatest(old.last_tick_at, new.last_tick_at)),
        },
    )


class BarStore:
    """Writes recorded bars (merging) and raw ticks (first one per timestamp kept)."""

    def __init__(self, database: AsyncDatabaseManager, partitions: Partitions) -> None:
        self.database = database
        self.partitions = partitions
        self.on_postgresql = not database.config.is_sqlite
        self._merge = _merge_on_conflict() if self.on_postgresql else None

    async def write_bars(self, bars: Sequence[Bar]) -> int:
        """Merge `bars` into the stored ones in one transaction; how many rows were written."""
        if not bars:
            return 0
        merged = coalesce(list(bars))
        await self.partitions.ensure("market_bars", {month_of(bar.datetime) for bar in merged})
        async with self.database.session() as session:
            if self._merge is not None:
                for start in range(0, len(merged), _ROWS_PER_STATEMENT):
                    rows = [bar_row(bar) for bar in merged[start : start + _ROWS_PER_STATEMENT]]
                    await session.execute(self._merge, rows)
                execute = rollups.sqlalchemy_execute(await session.connection())
                await rollups.refresh(execute, _minute_spans(merged))
            else:
                await _merge_in_python(session, merged)
        return len(merged)

    async def write_ticks(self, ticks: Sequence[TickSnapshot]) -> int:
        """Store raw ticks; a second tick of a symbol at the same instant is dropped."""
        if not ticks:
            return 0
        await self.partitions.ensure("market_ticks", {month_of(tick.datetime) for tick in ticks})
        rows = [
            {
                "symbol": tick.symbol, "datetime": tick.datetime, "last_price": tick.last_price,
                "bid_price_1": tick.bid_price_1, "ask_price_1": tick.ask_price_1,
                "bid_volume_1": tick.bid_volume_1, "ask_volume_1": tick.ask_volume_1,
                "volume": tick.volume, "turnover": tick.turnover,
                "open_interest": tick.open_interest,
            }
            for tick in ticks
        ]  # fmt: skip
        table = TICKS
        insert = postgresql.insert(table) if self.on_postgresql else sqlite.insert(table)
        statement = insert.on_conflict_do_nothing(index_elements=["symbol", "datetime"])
        async with self.database.session() as session:
            for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                await session.execute(statement, rows[start : start + _ROWS_PER_STATEMENT])
        return len(rows)


def _minute_spans(bars: list[Bar]) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each symbol's first and last 1m bar among `bars`."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for bar in bars:
        if bar.interval != "1m":
            continue
        first, last = spans.get(bar.symbol, (bar.datetime, bar.datetime))
        spans[bar.symbol] = (min(first, bar.datetime), max(last, bar.datetime))
    return {symbol: [span] for symbol, span in spans.items()}


async def _merge_in_python(session: AsyncSession, bars: list[Bar]) -> None:
    table = BARS
    for start in range(0, len(bars), 500):
        chunk = bars[start : start + 500]
        keys = [bar.key for bar in chunk]
        stored: dict[tuple[str, str, datetime], Bar] = {}
        found = await session.scalars(
            select(MarketBar).where(
                tuple_(table.c.symbol, table.c.interval, table.c.datetime).in_(keys)
            )
        )
        for row in found:
            bar = _bar(row)
            stored[bar.key] = bar
        rows = [
            bar_row(bar if bar.key not in stored else merge(stored[bar.key], bar)) for bar in chunk
        ]
        statement = sqlite.insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={name: statement.excluded[name] for name in BAR_COLUMNS if name not in _KEY},
        )
        await session.execute(statement, rows)
