"""Bar intervals: the ones stored (1m, 1h, 1d) and the ones served, built from stored bars.

Buckets are aligned to UTC: a 5m bar starts at a multiple of five minutes since the Unix
epoch, a 1h bar on the hour, a 1d bar at 00:00 UTC. A bar is labelled with its start.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BarInterval(StrEnum):
    """A bar's length, as the API names it."""

    MINUTE = "1m"
    FIVE_MINUTES = "5m"
    FIFTEEN_MINUTES = "15m"
    HOUR = "1h"
    DAY = "1d"

    @property
    def step(self) -> timedelta:
        """The bar's length."""
        return _STEPS[self]

    @property
    def stored(self) -> bool:
        """True for the intervals bars are stored in (recorded minutes, imported 1m/1h/1d)."""
        return self in STORED_INTERVALS

    @property
    def bases(self) -> tuple[BarInterval, ...]:
        """The stored intervals this one can be built from, coarsest first."""
        return tuple(base for base in STORED_INTERVALS[::-1] if self.step % base.step == _ZERO)

    def floor(self, moment: datetime) -> datetime:
        """The start of the bar `moment` falls in."""
        return moment - (moment - EPOCH) % self.step

    def ceil(self, moment: datetime) -> datetime:
        """The first bar boundary at or after `moment`."""
        start = self.floor(moment)
        return start if start == moment else start + self.step


_ZERO = timedelta(0)
_STEPS = {
    BarInterval.MINUTE: timedelta(minutes=1),
    BarInterval.FIVE_MINUTES: timedelta(minutes=5),
    BarInterval.FIFTEEN_MINUTES: timedelta(minutes=15),
    BarInterval.HOUR: timedelta(hours=1),
    BarInterval.DAY: timedelta(days=1),
}
STORED_INTERVALS = (BarInterval.MINUTE, BarInterval.HOUR, BarInterval.DAY)
