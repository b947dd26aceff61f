"""Ticks a replica already dispatched, to send each client one copy."""

from __future__ import annotations


class RecentTicks:
    """The last few ticks of each symbol, to drop a tick that arrives twice.

    Replicas connected to the same market each publish the same exchange ticks: a client
    gets one copy, whichever replica's arrives first.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._recent: dict[str, dict[str, None]] = {}

    def seen(self, symbol: str, payload: str) -> bool:
        """True if `payload` was seen recently; remembers it otherwise."""
        recent = self._recent.setdefault(symbol, {})
        if payload in recent:
            return True
        recent[payload] = None
        if len(recent) > self.size:
            del recent[next(iter(recent))]
        return False
