"""Bar: one stored bar, and how two recordings of the same minute merge into one.

A recorded bar knows the first and last tick it was built from. Two recordings of one
minute are either disjoint (this replica before and after a restart, or a bar written when
its symbol went quiet and continued by a late tick): their volume and turnover add up; or
they overlap (two replicas of one shared PAPER market, or a retried write, see the same
ticks): the one that saw more wins, so writing a bar twice changes nothing. Either way
open comes from the earlier first tick, close and open interest from the later last tick,
high and low from both. An imported bar (no tick times) replaces what is stored; a recording
never changes an imported bar. store.py applies the same rule in SQL on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(slots=True)
class Bar:
    """A bar of `symbol` starting at `datetime` (UTC), of `interval` (`1m`, `1h`, `1d`)."""

    symbol: str
    interval: str
    datetime: dt.datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    turnover: Decimal = ZERO
    open_interest: Decimal = ZERO
    first_tick_at: dt.datetime | None = None
    last_tick_at: dt.datetime | None = None

    @property
    def key(self) -> tuple[str, str, dt.datetime]:
        """(symbol, interval, datetime): the stored bar's primary key."""
        return self.symbol, self.interval, self.datetime

    @property
    def recorded(self) -> bool:
        """True for a bar built from ticks (it knows their times)."""
        return self.first_tick_at is not None and self.last_tick_at is not None


def merge(stored: Bar, incoming: Bar) -> Bar:
    """`stored` and `incoming` (the same key) as one bar (see the module docstring)."""
    first_new, last_new = incoming.first_tick_at, incoming.last_tick_at
    first_old, last_old = stored.first_tick_at, stored.last_tick_at
    if first_new is None or last_new is None:
        return incoming
    if first_old is None or last_old is None:
        return stored
    disjoint = first_new > last_old or last_new < first_old
    earlier = incoming if first_new < first_old else stored
    later = incoming if last_new > last_old else stored
    if disjoint:
        volume = stored.volume + incoming.volume
        turnover = stored.turnover + incoming.turnover
    else:
        volume = max(stored.volume, incoming.volume)
        turnover = max(stored.turnover, incoming.turnover)
    return replace(
        stored,
        open=earlier.open,
        high=max(stored.high, incoming.high),
        low=min(stored.low, incoming.low),
        close=later.close,
        volume=volume,
        turnover=turnover,
        open_interest=later.open_interest,
        first_tick_at=earlier.first_tick_at,
        last_tick_at=later.last_tick_at,
    )


def coalesce(bars: list[Bar]) -> list[Bar]:
    """One bar per key, merged in order (one statement may not write a row twice)."""
    merged: dict[tuple[str, str, dt.datetime], Bar] = {}
    for bar in bars:
        previous = merged.get(bar.key)
        merged[bar.key] = bar if previous is None else merge(previous, bar)
    return list(merged.values())
