"""Bars read from SQLite (the embedded default): rows read in order and aggregated here.

SQLite keeps each amount as the text of an exact decimal (core/database/types.Money), which
it would compare and add as text; so rows are read as they are and aggregated in Python,
which is fine at the embedded default's scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, String, Table, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.models.market import MarketBar
from backend.services.market.intervals import BarInterval
from backend.services.market.numbers import plain_text
from backend.services.market.paging import VALUE_COLUMNS, BarPage, BarRequest, Row
from backend.services.market.paging import plan as plan_page


async def page_sqlite(connection: AsyncConnection, request: BarRequest) -> BarPage:
    table = cast(Table, MarketBar.__table__)
    symbol = request.symbol

    def rows_between(base: BarInterval, low: datetime, high: datetime) -> Select[Any]:
        values = (type_coerce(table.c[name], String) for name in VALUE_COLUMNS)
        return (
            select(table.c.datetime, *values)
            .where(
                table.c.symbol == symbol,
                table.c.interval == base.value,
                table.c.datetime >= low,
                table.c.datetime < high,
            )
            .order_by(table.c.datetime)
        )

    async def exists(base: BarInterval, low: datetime, high: datetime) -> bool:
        found = await connection.execute(rows_between(base, low, high).limit(1))
        return found.first() is not None

    async def newest(base: BarInterval, high: datetime) -> datetime | None:
        last = await connection.scalar(
            select(func.max(table.c.datetime)).where(
                table.c.symbol == symbol, table.c.interval == base.value, table.c.datetime < high
            )
        )
        return None if last is None else _utc(last)

    plan = await plan_page(request, exists, newest)
    if plan is None:
        return BarPage([], None)
    interval, limit = request.interval, request.limit
    query = rows_between(plan.base, plan.low, plan.high)
    if plan.base is interval:
        rows = [_plain_row(row) for row in await connection.execute(query.limit(limit + 1))]
        return BarPage(rows, rows.pop()[0] if len(rows) > limit else None)
    buckets = aggregate_rows(interval, (_plain_row(row) for row in await connection.execute(query)))
    following = None
    if plan.high < plan.until:
        first = (
            await connection.execute(rows_between(plan.base, plan.high, plan.until).limit(1))
        ).first()
        following = None if first is None else interval.floor(_utc(first[0]))
    return BarPage(buckets, following)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _plain_row(row: Any) -> Row:
    return (_utc(row[0]), *(plain_text(text) for text in row[1:]))  # type: ignore[return-value]


def aggregate_rows(interval: BarInterval, rows: Iterable[Row]) -> list[Row]:
    """Minutes (hours) into buckets: first open, max high, min low, last close, summed volume
    and turnover, last open interest."""
    buckets: list[Row] = []
    current: list[Any] = []
    for row in rows:
        bucket = interval.floor(row[0])
        values = [Decimal(text) for text in row[1:]]
        if not current or current[0] != bucket:
            if current:
                buckets.append(_bucket_row(current))
            current = [bucket, *values]
            continue
        current[2] = max(current[2], values[1])
        current[3] = min(current[3], values[2])
        current[4] = values[3]
        current[5] += values[4]
        current[6] += values[5]
        current[7] = values[6]
    if current:
        buckets.append(_bucket_row(current))
    return buckets


def _bucket_row(values: list[Any]) -> Row:
    texts = (plain_text(format(value, "f")) for value in values[1:])
    return (values[0], *texts)
