"""Two recordings of one minute merge: disjoint ones add up, overlapping ones do not."""

from __future__ import annotations

import itertools
from decimal import Decimal

from backend.services.market.bar import coalesce, merge
from tests.services.market.support import MINUTE, imported, segment

BEFORE_RESTART = segment(
    5, 20, open_="10", high="12", low="9", close="11", volume="4", interest="100"
)
AFTER_RESTART = segment(
    40, 55, open_="11", high="13", low="10", close="12", volume="6", interest="105"
)
WHOLE = segment(2, 55, open_="10", high="13", low="9", close="12", volume="11", interest="105")


def test_disjoint_recordings_of_a_minute_add_up_in_either_order() -> None:
    for first, second in ((BEFORE_RESTART, AFTER_RESTART), (AFTER_RESTART, BEFORE_RESTART)):
        bar = merge(first, second)
        assert (bar.open, bar.high, bar.low, bar.close) == (10, 13, 9, 12)
        assert (bar.volume, bar.turnover, bar.open_interest) == (10, 100, 105)
        assert (bar.first_tick_at, bar.last_tick_at) == (
            BEFORE_RESTART.first_tick_at,
            AFTER_RESTART.last_tick_at,
        )


def test_writing_a_recording_again_changes_nothing() -> None:
    assert merge(WHOLE, WHOLE) == WHOLE


def test_a_replica_that_saw_everything_wins_whatever_the_order() -> None:
    # Replica A restarted (two disjoint parts); replica B saw the whole minute.
    for order in itertools.permutations([BEFORE_RESTART, AFTER_RESTART, WHOLE]):
        bar = order[0]
        for following in order[1:]:
            bar = merge(bar, following)
        assert bar == WHOLE, order


def test_an_import_replaces_and_a_recording_never_changes_an_imported_bar() -> None:
    history = imported(MINUTE, "50")
    assert merge(WHOLE, history) == history
    assert merge(history, WHOLE) == history


def test_one_bar_per_key_in_a_batch() -> None:
    merged = coalesce([BEFORE_RESTART, AFTER_RESTART])
    assert len(merged) == 1
    assert merged[0].volume == Decimal(10)
