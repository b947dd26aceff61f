"""Bars for market history tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from backend.services.market.bar import Bar

MINUTE = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
SYMBOL = "rb2501.SHFE"


def segment(
    first_second: int,
    last_second: int,
    *,
    open_: str,
    high: str,
    low: str,
    close: str,
    volume: str,
    interest: str = "0",
    minute: datetime = MINUTE,
) -> Bar:
    """A recording of part of one minute: ticks from `first_second` to `last_second`."""
    return Bar(
        SYMBOL,
        "1m",
        minute,
        Decimal(open_),
        Decimal(high),
        Decimal(low),
        Decimal(close),
        Decimal(volume),
        Decimal(volume) * 10,
        Decimal(interest),
        minute + timedelta(seconds=first_second),
        minute + timedelta(seconds=last_second),
    )


def imported(minute: datetime, close: str, volume: str = "1", symbol: str = SYMBOL) -> Bar:
    """An imported one-minute bar (no tick times) with open = low = close, high = close + 1."""
    price = Decimal(close)
    return Bar(symbol, "1m", minute, price, price + 1, price, price, Decimal(volume))
