"""A bar's numbers read from text, checked as an order's amounts are: prices > 0, amounts >= 0,
every one below 10**16 with at most 8 places, trailing zeros aside (what NUMERIC(24, 8) stores).

Prices repeat on the tick grid and volumes often: a cache keeps one Decimal per distinct text,
parsed and checked once. `prices_of`, `amounts_of` and `uncached_amounts` do a column of a block
at once (ValueError if any value fails; the reader then finds which line, one at a time).
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext
from itertools import repeat
from operator import is_

ZERO = Decimal(0)
LIMIT = Decimal(10) ** 16
MAX_PLACES = 8
EIGHT_PLACES = Decimal(10) ** -MAX_PLACES
_CACHE_LIMIT = 65_536
# Precision for summing a block's amounts exactly: below 10**16 with at most 8 places each,
# a million of them need 16 + 6 + 8 digits.
_EXACT_SUMS = Context(prec=40, traps=[InvalidOperation, Inexact])


def prices_of(cache: dict[str, Decimal], texts: list[str]) -> list[Decimal]:
    """Prices (> 0), from the cache where it has them (a miss is parsed, checked, kept)."""
    get = cache.get
    values = list(map(get, texts))
    if not all(values):  # a cached price is never 0: only misses are falsy
        # A text missed twice in one block is parsed once: the cache is asked again.
        values = [
            value or get(text) or cached(cache, text, ZERO)
            for value, text in zip(values, texts, strict=True)
        ]
    return values  # type: ignore[return-value]


def amounts_of(cache: dict[str, Decimal], texts: list[str]) -> list[Decimal]:
    """Amounts (>= 0), from the cache where it has them (a miss is parsed, checked, kept)."""
    values = list(map(cache.get, texts))
    if any(map(is_, values, repeat(None))):  # not `None in`: Decimal == None is slow
        values = [
            _amount(cache, text) if value is None else value
            for value, text in zip(values, texts, strict=True)
        ]
    return values  # type: ignore[return-value]


def _amount(cache: dict[str, Decimal], text: str) -> Decimal:
    found = cache.get(text)
    return cached(cache, text, None) if found is None else found


def uncached_amounts(texts: list[str]) -> list[Decimal]:
    """Amounts that rarely repeat (turnover): >= 0, below 10**16, at most 8 places, checked
    column-wide (ValueError if any is not)."""
    values = list(map(Decimal, texts))
    if not (min(values) >= ZERO and max(values) < LIMIT):
        raise ValueError("an amount out of range")
    # A sum's exponent is its terms' smallest (exact at this precision): none has a digit,
    # even a trailing 0, past the 8th place when it has none. Else each is compared with
    # itself at 8 places ("1.100000000" is 1.1).
    with localcontext(_EXACT_SUMS):
        exponent = sum(values, ZERO).as_tuple().exponent
    if (
        not (isinstance(exponent, int) and exponent >= -MAX_PLACES)
        and list(map(Decimal.quantize, values, repeat(EIGHT_PLACES))) != values
    ):
        raise ValueError("an amount with more than 8 places")
    return values


def cached(cache: dict[str, Decimal], text: str, above: Decimal | None) -> Decimal:
    """Parse `text`, check it (as `checked`) and keep it."""
    value = checked(text, above)
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[text] = value
    return value


def checked(text: str, above: Decimal | None) -> Decimal:
    """`text` parsed: > `above` (>= 0 when None), below 10**16, at most 8 places."""
    value = Decimal(text)
    if not (value > above if above is not None else value >= ZERO) or not value < LIMIT:
        raise ValueError(text)
    if not within_places(value):
        raise ValueError(text)
    return value


def within_places(value: Decimal) -> bool:
    """No digit other than 0 past the 8th place: "1.100000000" is 1.1, as an order's amounts
    are read. For a finite value below 10**16 (28 digits of precision hold it at 8 places);
    a comparison instead of `as_tuple`, which builds a tuple of every digit."""
    return value.quantize(EIGHT_PLACES) == value
