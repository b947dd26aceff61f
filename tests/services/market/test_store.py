"""BarStore merges recordings the same way on PostgreSQL (in SQL) and on SQLite (in Python)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from backend.app.container import AppContainer
from backend.services.market.bar import Bar
from backend.services.market.intervals import BarInterval
from tests.services.market.support import MINUTE, SYMBOL, imported, segment
from tests.services.market.test_merge import AFTER_RESTART, BEFORE_RESTART, WHOLE


async def stored(container: AppContainer) -> list[Bar]:
    end = MINUTE + timedelta(hours=1)
    return await container.history.history.load_bars(SYMBOL, BarInterval.MINUTE, MINUTE, end)


@pytest.mark.parametrize(
    "writes",
    [list(order) for order in itertools.permutations([BEFORE_RESTART, AFTER_RESTART, WHOLE])],
)
async def test_every_order_of_writes_stores_the_whole_minute(
    container: AppContainer, writes: list[Bar]
) -> None:
    for bar in writes:
        await container.history.store.write_bars([bar])
    [bar] = await stored(container)
    assert (bar.open, bar.high, bar.low, bar.close) == (
        WHOLE.open,
        WHOLE.high,
        WHOLE.low,
        WHOLE.close,
    )
    assert (bar.volume, bar.turnover, bar.open_interest) == (
        WHOLE.volume,
        WHOLE.turnover,
        WHOLE.open_interest,
    )


async def test_a_restart_adds_the_second_part_of_the_minute(container: AppContainer) -> None:
    store = container.history.store
    await store.write_bars([BEFORE_RESTART])
    await store.write_bars([AFTER_RESTART])
    await store.write_bars([AFTER_RESTART])  # a retried write
    [bar] = await stored(container)
    assert (bar.open, bar.close, bar.volume, bar.open_interest) == (10, 12, 10, 105)


async def test_two_parts_in_one_batch_are_one_row(container: AppContainer) -> None:
    assert await container.history.store.write_bars([BEFORE_RESTART, AFTER_RESTART]) == 1
    [bar] = await stored(container)
    assert bar.volume == 10


async def test_recordings_do_not_change_imported_bars(container: AppContainer) -> None:
    store = container.history.store
    await store.write_bars([imported(MINUTE, "50")])
    await store.write_bars([segment(1, 2, open_="1", high="1", low="1", close="1", volume="1")])
    [bar] = await stored(container)
    assert (bar.open, bar.close, bar.volume) == (50, 50, 1)
