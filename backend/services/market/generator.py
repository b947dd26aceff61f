"""MinuteBars: ticks -> one-minute bars, by the rules of vnpy's BarGenerator.update_tick.

Per symbol: a tick with no last price is ignored; a tick of another minute than the forming
bar's finishes that bar and starts a new one (open = high = low = close = last price, open
interest from the tick); otherwise high and low extend to the last price, close and open
interest follow it. Volume and turnover grow by each tick's rise in the gateway's cumulative
volume and turnover over the previous tick of the symbol (a fall, as at a new trading day,
adds nothing), also across bars and from the first tick on, as vnpy's do.
Departures: minutes are compared whole (vnpy compares hour and minute only, so a tick 24
hours later would extend a stale bar); a tick older than the symbol's previous one (a replay
of old ticks after live ones) adds no volume or turnover, it only sets the counters the next
tick is measured from; and the tick day's high/low fields are not read (RedFire's
TickSnapshot carries the last price, volumes, turnover and open interest).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from backend.domain.market import TickSnapshot
from backend.services.market.bar import ZERO, Bar
from backend.services.market.intervals import BarInterval

MINUTE = BarInterval.MINUTE.value


@dataclass(slots=True)
class _Symbol:
    bar: Bar | None = None
    volume: Decimal | None = None  # the previous tick's cumulative volume; None at first
    turnover: Decimal = ZERO
    moment: datetime | None = None  # the previous tick's time
    touched: float = 0.0


class MinuteBars:
    """The forming one-minute bar of every symbol; `update` returns the bar a tick finishes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._symbols: dict[str, _Symbol] = {}
        self._clock = clock

    def update(self, tick: TickSnapshot) -> Bar | None:
        """Add one tick; the bar it finished (a tick of a new minute), or None."""
        price = tick.last_price
        if not price:
            return None
        state = self._symbols.get(tick.symbol)
        if state is None:
            state = self._symbols[tick.symbol] = _Symbol()
        moment = tick.datetime
        minute = moment.replace(second=0, microsecond=0)
        bar = state.bar
        finished = None
        if bar is None or bar.datetime != minute:
            finished = bar
            bar = state.bar = Bar(
                tick.symbol, MINUTE, minute, price, price, price, price,
                ZERO, ZERO, tick.open_interest, moment, moment,
            )  # fmt: skip
        else:
            if price > bar.high:
                bar.high = price
            elif price < bar.low:
                bar.low = price
            bar.close = price
            bar.open_interest = tick.open_interest
            last, first = bar.last_tick_at, bar.first_tick_at
            if last is None or moment > last:
                bar.last_tick_at = moment
            elif first is None or moment < first:
                bar.first_tick_at = moment
        previous = state.volume
        if previous is not None and state.moment is not None and moment >= state.moment:
            rise = tick.volume - previous
            if rise > 0:
                bar.volume += rise
            rise = tick.turnover - state.turnover
            if rise > 0:
                bar.turnover += rise
        state.volume = tick.volume
        state.turnover = tick.turnover
        state.moment = moment
        state.touched = self._clock()
        return finished

    def close_idle(self, idle_seconds: float) -> list[Bar]:
        """Finish the bars of symbols without a tick for `idle_seconds` (a session's last bar).

        A later tick of the same minute starts another bar of it, which merges with this one
        when stored (disjoint ticks: volumes add up).
        """
        limit = self._clock() - idle_seconds
        closed = []
        for state in self._symbols.values():
            if state.bar is not None and state.touched <= limit:
                closed.append(state.bar)
                state.bar = None
        return closed

    def close_all(self) -> list[Bar]:
        """Finish every forming bar (at shutdown: the next run's bars of the minute merge)."""
        closed = [state.bar for state in self._symbols.values() if state.bar is not None]
        for state in self._symbols.values():
            state.bar = None
        return closed

    def forming(self, symbol: str) -> Bar | None:
        """The bar `symbol`'s ticks are building now, if any."""
        state = self._symbols.get(symbol)
        return None if state is None else state.bar
