"""Market history: bars (one-minute bars recorded from ticks, or imported) and raw ticks.

On PostgreSQL both tables are partitioned by month on `datetime` (declarative range
partitioning): services/market/partitions.py creates the partitions ahead of time and on
demand, and retention drops whole months. SQLite keeps plain tables.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base

PARTITION_BY = "RANGE (datetime)"
PARTITION_NAME = re.compile(r"^market_(bars|ticks)_p\d{6}$")


def include_name(name: str | None, type_: str, _parents: Mapping[str, str | None]) -> bool:
    """Alembic's `include_name`: monthly partitions (`market_bars_p202401`) are created by
    code, not by models or migrations, so autogenerate and the schema check leave them out."""
    return not (type_ == "table" and name is not None and PARTITION_NAME.match(name))


class MarketBar(Base):
    """One bar of a symbol: the minute (hour, day) that starts at `datetime`, UTC.

    `first_tick_at` and `last_tick_at` bound the ticks a recorded bar was built from, so that
    two recordings of one minute merge instead of one overwriting the other (see
    services/market/segments.py); both are NULL on imported bars.
    """

    __tablename__ = "market_bars"
    __table_args__ = ({"postgresql_partition_by": PARTITION_BY},)

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    interval: Mapped[str] = mapped_column(String(4), primary_key=True)
    datetime: Mapped[dt.datetime] = mapped_column(primary_key=True)
    open: Mapped[Decimal]
    high: Mapped[Decimal]
    low: Mapped[Decimal]
    close: Mapped[Decimal]
    volume: Mapped[Decimal]
    turnover: Mapped[Decimal]
    open_interest: Mapped[Decimal]
    first_tick_at: Mapped[dt.datetime | None]
    last_tick_at: Mapped[dt.datetime | None]


class MarketTick(Base):
    """A raw tick, recorded only with MARKET__RECORD_TICKS (one per symbol and timestamp)."""

    __tablename__ = "market_ticks"
    __table_args__ = ({"postgresql_partition_by": PARTITION_BY},)

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    datetime: Mapped[dt.datetime] = mapped_column(primary_key=True)
    last_price: Mapped[Decimal]
    bid_price_1: Mapped[Decimal]
    ask_price_1: Mapped[Decimal]
    bid_volume_1: Mapped[Decimal]
    ask_volume_1: Mapped[Decimal]
    volume: Mapped[Decimal]
    turnover: Mapped[Decimal]
    open_interest: Mapped[Decimal]


class MarketBarHour(Base):
    """The rollup of one symbol's stored one-minute bars of one UTC hour (PostgreSQL).

    Kept in step with market_bars by every write (services/market/rollups.py), so that 1h
    and 1d bars built from minutes read 24 rows a day instead of 1,440. Volume and turnover
    are unbounded NUMERIC (sums); SQLite leaves the table empty.
    """

    __tablename__ = "market_bar_hours"

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    datetime: Mapped[dt.datetime] = mapped_column(primary_key=True)
    open: Mapped[Decimal] = mapped_column(Numeric())
    high: Mapped[Decimal] = mapped_column(Numeric())
    low: Mapped[Decimal] = mapped_column(Numeric())
    close: Mapped[Decimal] = mapped_column(Numeric())
    volume: Mapped[Decimal] = mapped_column(Numeric())
    turnover: Mapped[Decimal] = mapped_column(Numeric())
    open_interest: Mapped[Decimal] = mapped_column(Numeric())
