"""1h and 1d bars of minutes (served from hourly rollups on PostgreSQL) are exactly the
minutes aggregated: after an import, an overlapping re-import, a recording and retention."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from backend.app.container import AppContainer
from backend.core.config.settings import MarketConfig
from backend.services.market.csv_source import CsvSource
from backend.services.market.intervals import BarInterval
from backend.services.market.paging import BarRequest, Row
from backend.services.market.retention import Retention
from backend.services.market.sqlite_reading import aggregate_rows
from tests.services.market.support import SYMBOL, segment

START = datetime(2024, 3, 4, 6, 17, tzinfo=UTC)  # mid-hour
WIDE = (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 12, tzinfo=UTC))


def minutes_csv(first: datetime, count: int, *, shift: int = 0, skip: int = 7) -> bytes:
    """`count` minutes from `first`, every `skip`-th missing (gaps inside hours), values that
    make every aggregate tell-tale; `shift` changes them all (a corrected re-import)."""
    lines = ["datetime,open,high,low,close,volume,turnover,open_interest"]
    for index in range(count):
        if index % skip == 3:
            continue
        moment = first + timedelta(minutes=index)
        base = 3000 + (index * 37) % 101 + shift
        high, low = base + 2 + index % 5, base - 1 - index % 3
        lines.append(
            f"{moment:%Y-%m-%dT%H:%M:%SZ},{base}.5,{high},{low}.25,{base + 1},"
            f"{index % 13 + shift},{(index % 13) * 30000.125},{10_000 + index}"
        )
    return ("\n".join(lines) + "\n").encode()


async def import_csv(container: AppContainer, body: bytes) -> None:
    def source() -> CsvSource:
        # Chunks of 500 minutes: hours split between chunks.
        body_stream = io.BytesIO(body)
        return CsvSource(body_stream, symbol=SYMBOL, interval=BarInterval.MINUTE, chunk_rows=500)

    await container.history.importer.run(source)


async def rows(container: AppContainer, interval: BarInterval, limit: int = 10_000) -> list[Row]:
    request = BarRequest(SYMBOL, interval, *WIDE, limit)
    return (await container.history.reader.page(request)).rows


async def assert_served_as_aggregated(container: AppContainer) -> None:
    minutes = await rows(container, BarInterval.MINUTE)
    assert minutes
    for interval in (BarInterval.HOUR, BarInterval.DAY):
        served = await rows(container, interval)
        assert served == aggregate_rows(interval, minutes)
        # Paged (7 at a time) and counted the same.
        paged = [
            row
            async for chunk in container.history.reader.row_chunks(SYMBOL, interval, *WIDE, 7)
            for row in chunk
        ]
        assert paged == served
        count = await container.history.reader.count(SYMBOL, interval, *WIDE)
        assert count == len(served)


async def test_hours_and_days_of_an_import_and_an_overlapping_one(
    container: AppContainer,
) -> None:
    await import_csv(container, minutes_csv(START, 3000))
    await assert_served_as_aggregated(container)
    # The series continued: new minutes after every stored one, the first hour shared.
    await import_csv(container, minutes_csv(START + timedelta(minutes=3000), 200, shift=1))
    await assert_served_as_aggregated(container)
    # A corrected stretch starting and ending mid-hour, with its own gaps: minutes of both
    # imports now share hours.
    await import_csv(container, minutes_csv(START + timedelta(minutes=395), 700, shift=3, skip=5))
    await assert_served_as_aggregated(container)
    # A stretch without gaps over stored minutes: whole hours of imported minutes, partial
    # ones at its ends (one minute missing).
    await import_csv(
        container, minutes_csv(START + timedelta(minutes=1203), 300, shift=5, skip=10**6)
    )
    await assert_served_as_aggregated(container)
    # Minutes before everything stored, sharing the first hour.
    await import_csv(container, minutes_csv(START - timedelta(minutes=16), 10, shift=9))
    await assert_served_as_aggregated(container)


async def test_recorded_minutes_merge_into_the_hours(container: AppContainer) -> None:
    await import_csv(container, minutes_csv(START, 300))
    store = container.history.store
    # New minutes inside an imported hour and after it; two recordings of one minute merge.
    inside, after = START + timedelta(minutes=3), START + timedelta(minutes=400)
    await store.write_bars([
        segment(1, 20, open_="3100", high="3200", low="2900", close="3150", volume="5",
                minute=inside),
        segment(0, 30, open_="3001", high="3002", low="3000", close="3001.5", volume="2",
                interest="7", minute=after),
    ])  # fmt: skip
    await assert_served_as_aggregated(container)
    await store.write_bars(
        [
            segment(
                31,
                59,
                open_="3003",
                high="3400",
                low="2999",
                close="3004",
                volume="4",
                interest="9",
                minute=after,
            )
        ]
    )
    await assert_served_as_aggregated(container)
    hour = await rows(container, BarInterval.HOUR)
    last = hour[-1]
    assert last[0] == BarInterval.HOUR.floor(after)
    assert (last[2], last[4], last[5], last[7]) == ("3400", "3004", "6", "9")


async def test_retention_takes_the_expired_hours_and_keeps_the_rest_exact(
    container: AppContainer,
) -> None:
    await import_csv(container, minutes_csv(START, 3000))
    cutoff = START + timedelta(minutes=1000, seconds=30)  # mid-hour, between two minutes
    now = cutoff + timedelta(days=30)
    retention = Retention(
        container.database, container.history.partitions, MarketConfig(retention_days=30)
    )
    await retention.run_once(now)
    minutes = await rows(container, BarInterval.MINUTE)
    assert minutes[0][0] > cutoff
    await assert_served_as_aggregated(container)
    hours = await rows(container, BarInterval.HOUR)
    assert hours[0][0] == BarInterval.HOUR.floor(cutoff)
