"""A series builds each bar's ReplayTick once: every replay of it (each run of a sweep) shares
them, and bars appended while a series replays (a history feed) get theirs on the next call."""

from __future__ import annotations

from decimal import Decimal

from backend.services.backtest.bars import ReplayTick, replay_ticks
from backend.services.backtest.history_feed import BarChunk
from tests.services.backtest.conftest import make_bars

ROWS = [("10", "11", "9", "10.5"), ("10.5", "12", "10", "11.5"), ("11.5", "12", "11", "11")]


def test_the_ticks_are_built_once_and_shared_by_every_replay() -> None:
    bars = make_bars(ROWS)

    first = bars.ticks()
    again = list(replay_ticks(bars))

    assert [tick.last_price for tick in first] == [Decimal("10.5"), Decimal("11.5"), Decimal(11)]
    assert all(a is b for a, b in zip(first, again, strict=True))
    assert bars.ticks() is first


def test_bars_appended_after_a_replay_get_their_ticks_in_order() -> None:
    bars = make_bars(ROWS[:1])
    assert len(bars.ticks()) == 1
    whole = make_bars(ROWS)
    chunk = BarChunk(
        whole.datetimes[1:], whole.open[1:], whole.high[1:], whole.low[1:], whole.close[1:],
        whole.volume[1:],
    )  # fmt: skip

    bars.extend(chunk)

    assert list(replay_ticks(bars, first=1)) == whole.ticks()[1:]
    assert bars.ticks() == whole.ticks()
    assert bars.with_days().ticks() == whole.ticks()
    assert all(type(tick) is ReplayTick for tick in bars.ticks())
