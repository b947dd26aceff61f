"""Stored decimals as the API and the backtests read them: exact, without trailing zeros.

PostgreSQL keeps NUMERIC(24, 8) and SQLite the text of a value quantized to 8 places
(core/database/types.Money), so 3500.2 comes back as 3500.20000000 (and zero on SQLite as
0E-8). Bars are served and replayed as the shortest exact text, "3500.2", "0".
"""

from __future__ import annotations

from decimal import Decimal

_CACHE_LIMIT = 100_000


def plain_text(text: str) -> str:
    """The shortest plain decimal text of a stored value's text (no exponent)."""
    if "E" in text or "e" in text:
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


class DecimalTexts:
    """Stored texts -> (Decimal, plain text), one shared Decimal per distinct value."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[Decimal, str]] = {}

    def get(self, text: str) -> tuple[Decimal, str]:
        """The value of `text` and its plain text."""
        found = self._values.get(text)
        if found is None:
            plain = plain_text(text)
            found = (Decimal(plain), plain)
            if len(self._values) >= _CACHE_LIMIT:
                self._values.clear()
            self._values[text] = found
        return found
