"""format_currency: money for people, with half-up rounding and no float surprises."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_SYMBOLS = {"USD": "$", "CNY": "¥"}
_CENT = Decimal("0.01")


def format_currency(amount: Decimal | float | int, currency: str = "USD") -> str:
    """`$1,234.50`, `¥1,234.50`, `1,234.50 EUR`; negatives as `-$1,234.50`."""
    # str() first: Decimal(0.125) would carry the float's binary error into the rounding.
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    if not value.is_finite():
        raise ValueError(f"cannot format non-finite amount {amount!r}")
    rounded = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    digits = f"{abs(rounded):,.2f}"
    code = currency.upper()
    symbol = _SYMBOLS.get(code)
    if symbol is not None:
        return f"{sign}{symbol}{digits}"
    return f"{sign}{digits} {code}"
