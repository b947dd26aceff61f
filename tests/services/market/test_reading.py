"""Bars read back: aggregated by the OHLCV rules into UTC buckets, paged, from the right base."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from backend.app.container import AppContainer
from backend.services.market.bar import Bar
from backend.services.market.intervals import BarInterval
from backend.services.market.paging import BarRequest
from tests.services.market.support import SYMBOL

DAY = datetime(2024, 3, 4, tzinfo=UTC)
M = BarInterval.MINUTE


def minute_bar(index: int, *, interval: str = "1m", step: timedelta = timedelta(minutes=1)) -> Bar:
    """Bar `index` after DAY: prices and volumes that make every aggregate tell-tale."""
    base = Decimal(100 + index)
    return Bar(
        SYMBOL,
        interval,
        DAY + step * index,
        base,
        base + Decimal("0.5") + index % 7,
        base - Decimal("0.25") - index % 5,
        base + Decimal("0.1"),
        Decimal(index + 1),
        Decimal(10 * index),
        Decimal(1000 + index),
    )


async def store(container: AppContainer, bars: list[Bar]) -> None:
    await container.history.store.write_bars(bars)


async def page(container: AppContainer, interval: BarInterval, **kwargs: object) -> list:  # type: ignore[type-arg]
    request = BarRequest(SYMBOL, interval, **kwargs)  # type: ignore[arg-type]
    return (await container.history.reader.page(request)).rows


async def test_buckets_follow_the_ohlcv_rules(container: AppContainer) -> None:
    minutes = [minute_bar(index) for index in range(0, 180) if index not in (7, 61)]  # gaps
    await store(container, minutes)
    for interval, size in (
        (BarInterval.FIVE_MINUTES, 5),
        (BarInterval.FIFTEEN_MINUTES, 15),
        (BarInterval.HOUR, 60),
        (BarInterval.DAY, 1440),
    ):
        rows = await page(container, interval, start=DAY, end=DAY + timedelta(days=1), limit=100)
        # Buckets start every `size` minutes from 00:00 UTC.
        starts = [DAY + timedelta(minutes=size * n) for n in range(-(-180 // size))]
        assert [row[0] for row in rows] == starts
        for row in rows:
            members = [bar for bar in minutes if row[0] <= bar.datetime < row[0] + interval.step]
            expected = (
                members[0].open,
                max(bar.high for bar in members),
                min(bar.low for bar in members),
                members[-1].close,
                sum(bar.volume for bar in members),
                sum(bar.turnover for bar in members),
                members[-1].open_interest,
            )
            assert tuple(Decimal(text) for text in row[1:]) == expected, (interval, row[0])


async def test_pages_meet_without_overlap_and_skip_gaps(container: AppContainer) -> None:
    minutes = [minute_bar(index) for index in range(0, 60)]
    later = [minute_bar(index) for index in range(600, 640)]  # ten hours later
    await store(container, minutes + later)
    for interval in (M, BarInterval.FIVE_MINUTES):
        seen: list[datetime] = []
        cursor: datetime | None = DAY
        while cursor is not None:
            result = await container.history.reader.page(
                BarRequest(SYMBOL, interval, cursor, None, 7)
            )
            seen += [row[0] for row in result.rows]
            cursor = result.next_start
            assert 0 < len(result.rows) <= 7, "no empty page across the gap, none too long"
        expected = sorted({interval.floor(bar.datetime) for bar in minutes + later})
        assert seen == expected


async def test_without_start_the_newest_intervals(container: AppContainer) -> None:
    await store(container, [minute_bar(index) for index in range(0, 30)])
    rows = await page(container, M, limit=5)
    assert [row[0] for row in rows] == [DAY + timedelta(minutes=m) for m in range(25, 30)]
    rows = await page(container, M, end=DAY + timedelta(minutes=10), limit=3)
    assert [row[0].minute for row in rows] == [7, 8, 9]


async def test_imported_hours_are_served_as_imported_minutes_aggregated_otherwise(
    container: AppContainer,
) -> None:
    hours = [minute_bar(index, interval="1h", step=timedelta(hours=1)) for index in range(24)]
    minutes = [minute_bar(index) for index in range(0, 120)]
    await store(container, hours)
    next_day = DAY + timedelta(days=1)
    await store(
        container,
        [Bar(**{**vars_of(bar), "datetime": bar.datetime + timedelta(days=1)}) for bar in minutes],
    )
    first_day = await page(container, BarInterval.HOUR, start=DAY, end=next_day)
    assert [Decimal(row[1]) for row in first_day] == [bar.open for bar in hours]
    second_day = await page(container, BarInterval.HOUR, start=next_day)
    assert len(second_day) == 2
    assert Decimal(second_day[1][5]) == sum(bar.volume for bar in minutes[60:])
    daily = await page(container, BarInterval.DAY, start=DAY, end=next_day)
    assert Decimal(daily[0][5]) == sum(bar.volume for bar in hours)


def vars_of(bar: Bar) -> dict[str, object]:
    return {name: getattr(bar, name) for name in Bar.__slots__}  # type: ignore[attr-defined]


async def test_coverage_counts_and_gaps(container: AppContainer) -> None:
    await store(container, [minute_bar(index) for index in range(0, 100) if not 20 <= index < 23])
    [entry] = await container.history.coverage.coverage(M, symbol=SYMBOL, max_gaps=5)
    assert (entry.first, entry.last, entry.count) == (DAY, DAY + timedelta(minutes=99), 97)
    assert [(gap.start, gap.end, gap.missing) for gap in entry.gaps] == [
        (DAY + timedelta(minutes=20), DAY + timedelta(minutes=23), 3)
    ]
    assert entry.gaps_truncated is False
    await store(container, [minute_bar(index) for index in range(200, 400, 2)])
    [entry] = await container.history.coverage.coverage(M, symbol=SYMBOL, max_gaps=5)
    assert len(entry.gaps) == 5
    assert entry.gaps_truncated is True
