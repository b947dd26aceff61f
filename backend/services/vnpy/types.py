"""What the vnpy bridge delivers: the kinds of its events.

The values themselves (contracts, ticks, order updates, fills) are RedFire's market
vocabulary, backend/domain/market.py; conversions.py turns vnpy's objects into them.
"""

from __future__ import annotations

from enum import StrEnum


class BridgeEvent(StrEnum):
    """Kinds of events the bridge delivers to asyncio subscribers."""

    TICK = "tick"
    ORDER = "order"
    TRADE = "trade"
    CONTRACT = "contract"
