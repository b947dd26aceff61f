"""MinuteBars builds the one-minute bars vnpy's BarGenerator builds from the same ticks."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from vnpy.trader.constant import Exchange
from vnpy.trader.object import BarData, TickData
from vnpy.trader.utility import BarGenerator

from backend.domain.market import TickSnapshot
from backend.services.market.bar import Bar
from backend.services.market.generator import MinuteBars

START = datetime(2024, 3, 4, 1, 0, 3, tzinfo=UTC)
SYMBOL = "rb2501.SHFE"


def tick_stream(count: int, seed: int = 5) -> list[TickSnapshot]:
    """Ticks every few seconds, a price walk on a 0.5 grid, cumulative volume and turnover that
    restart once (a new trading day), a quiet spell of several minutes, and zero-price ticks."""
    rng = random.Random(seed)
    moment, price, volume, turnover, interest = START, Decimal(3500), Decimal(0), Decimal(0), 9000
    ticks = []
    for index in range(count):
        moment += timedelta(seconds=rng.choice([1, 3, 7, 20]))
        if index == count // 2:
            moment += timedelta(minutes=7)
            volume, turnover = Decimal(0), Decimal(0)  # the gateway's day counters restart
        price += Decimal("0.5") * rng.randint(-2, 2)
        traded = rng.randint(0, 9)
        volume += traded
        turnover += price * traded * 10
        interest += rng.randint(-3, 3)
        last = Decimal(0) if index % 97 == 5 else price  # vnpy skips ticks without a price
        ticks.append(
            TickSnapshot(
                SYMBOL,
                "PAPER",
                last,
                price,
                price + 1,
                Decimal(3),
                Decimal(4),
                volume,
                moment,
                turnover,
                Decimal(interest),
            )
        )
    return ticks


def vnpy_tick(tick: TickSnapshot) -> TickData:
    return TickData(
        gateway_name="PAPER",
        symbol="rb2501",
        exchange=Exchange.SHFE,
        datetime=tick.datetime,
        last_price=float(tick.last_price),
        volume=float(tick.volume),
        turnover=float(tick.turnover),
        open_interest=float(tick.open_interest),
    )


def as_tuple(bar: Bar | BarData) -> tuple[object, ...]:
    if isinstance(bar, BarData):
        return (
            bar.datetime,
            bar.open_price,
            bar.high_price,
            bar.low_price,
            bar.close_price,
            bar.volume,
            bar.turnover,
            bar.open_interest,
        )
    return (
        bar.datetime,
        float(bar.open),
        float(bar.high),
        float(bar.low),
        float(bar.close),
        float(bar.volume),
        float(bar.turnover),
        float(bar.open_interest),
    )


def test_the_same_bars_as_vnpys_bar_generator() -> None:
    ticks = tick_stream(2000)
    theirs: list[BarData] = []
    generator = BarGenerator(theirs.append)
    ours = MinuteBars()
    mine = []
    for tick in ticks:
        generator.update_tick(vnpy_tick(tick))
        finished = ours.update(tick)
        if finished is not None:
            mine.append(finished)
    assert len(theirs) > 100
    assert [as_tuple(bar) for bar in mine] == [as_tuple(bar) for bar in theirs]
    assert all(
        bar.first_tick_at
        and bar.last_tick_at
        and bar.first_tick_at.replace(second=0, microsecond=0) == bar.datetime
        for bar in mine
    )


def test_a_tick_a_day_later_at_the_same_clock_minute_starts_a_new_bar() -> None:
    bars = MinuteBars()
    first = tick_stream(1)[0]
    bars.update(first)
    later = TickSnapshot(
        SYMBOL,
        "PAPER",
        Decimal(3600),
        Decimal(3600),
        Decimal(3601),
        Decimal(1),
        Decimal(1),
        first.volume + 5,
        first.datetime + timedelta(days=1),
    )
    finished = bars.update(later)
    assert finished is not None
    assert finished.datetime == first.datetime.replace(second=0)
    assert bars.forming(SYMBOL) is not None
    assert bars.forming(SYMBOL).volume == Decimal(5)  # type: ignore[union-attr]


def test_quiet_symbols_and_shutdown_close_the_forming_bars() -> None:
    now = [100.0]
    bars = MinuteBars(clock=lambda: now[0])
    tick = tick_stream(1)[0]
    bars.update(tick)
    now[0] += 30
    assert bars.close_idle(60) == []
    now[0] += 31
    closed = bars.close_idle(60)
    assert [bar.datetime for bar in closed] == [tick.datetime.replace(second=0)]
    assert bars.forming(SYMBOL) is None
    bars.update(tick)
    assert len(bars.close_all()) == 1
    assert bars.close_all() == []


def test_a_tick_older_than_the_previous_one_only_sets_the_counters() -> None:
    bars = MinuteBars()
    live = tick_stream(1)[0]
    bars.update(live)
    replayed = [
        TickSnapshot(
            SYMBOL,
            "PAPER",
            Decimal(10),
            Decimal(10),
            Decimal(11),
            Decimal(1),
            Decimal(1),
            Decimal(volume),
            live.datetime - timedelta(days=30, seconds=s),
        )
        for s, volume in ((30, 500), (20, 503))
    ]
    bars.update(replayed[0])  # older than the live tick: no volume from 0 to 500
    bars.update(replayed[1])
    forming = bars.forming(SYMBOL)
    assert forming is not None
    assert forming.volume == Decimal(3)
