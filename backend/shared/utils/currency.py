"""Money for people (format_currency) and at the stored scale (to_money_scale)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

_SYMBOLS = {"USD": "$", "CNY": "¥"}
_CENT = Decimal("0.01")
# Every stored amount has 8 places (Numeric(24, 8)).
MONEY_QUANTUM = Decimal("0.00000001")
# Wide enough for any product of stored amounts (the default context keeps 28 digits).
_WIDE = Context(prec=80)


def to_money_scale(value: Decimal) -> Decimal:
    """`value` at the 8 places of a stored amount, half up.

    Computed amounts (marks, available cash) then read like stored ones in one answer:
    "9999715.00000000", not "9999715.0000000000000000" beside "0".
    """
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP, context=_WIDE)


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
