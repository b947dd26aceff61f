"""Backoff: how long a background reader or writer waits before it reconnects."""

from __future__ import annotations


class Backoff:
    """Exponential back-off from 50 ms up to `maximum` seconds."""

    def __init__(self, maximum: float) -> None:
        self.maximum = maximum
        self.delay = 0.05

    def next(self) -> float:
        """The delay to wait now; the next one doubles."""
        delay, self.delay = self.delay, min(self.delay * 2, self.maximum)
        return min(delay, self.maximum)

    def reset(self) -> None:
        """Back to the shortest delay after a success."""
        self.delay = 0.05
