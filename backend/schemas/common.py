"""Shapes shared by every area: pages of results, database id bounds, plain text, decimals."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
)
from pydantic_core import PydanticCustomError, to_jsonable_python

from backend.shared.utils.currency import to_money_scale

ItemT = TypeVar("ItemT")

PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 500


@dataclass(frozen=True, slots=True)
class TimeRange:
    """[start, end) in aware UTC; either end open (None)."""

    start: datetime | None = None
    end: datetime | None = None


# The largest key of a BIGINT (orders, trades) and an INTEGER (users, strategies...) column.
BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1

# No C0 control characters, DEL or C1 controls. Names never need them, terminals and logs
# misread them, and PostgreSQL refuses NUL in text outright (a 500 if it got that far).
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f-\x9f]*$"
PlainText = Annotated[str, StringConstraints(pattern=NO_CONTROL_CHARACTERS)]

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def written_in_iso_8601(value: Any) -> Any:
    """Pydantic would read a number, or a string of one (`end=0.0`), as Unix seconds: the
    contract promises ISO 8601 only, and a client sending a number rarely means 1970."""
    numeric = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if numeric or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise PydanticCustomError(
            "iso_8601",
            "must be written in ISO 8601 (2024-01-02, 2024-01-02T09:30:00Z), not as a number",
        )
    return value


def _within_utc(value: datetime) -> datetime:
    """A datetime whose offset takes it past year 1 or 9999 in UTC (0001-01-01T00:30+01:00)
    cannot be compared or converted: refused here, or it would be a 500 wherever it is used."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise PydanticCustomError(
                "datetime_range", "is outside the years 1 to 9999 once in UTC"
            ) from None
    return value


# A datetime a client sends (query or body): ISO 8601, never a number, and within the
# calendar in UTC; the aware one must carry an offset.
IsoDateTime = Annotated[datetime, BeforeValidator(written_in_iso_8601), AfterValidator(_within_utc)]
IsoAwareDateTime = Annotated[
    AwareDatetime, BeforeValidator(written_in_iso_8601), AfterValidator(_within_utc)
]
IsoDate = Annotated[date, BeforeValidator(written_in_iso_8601)]


def plain_decimal(value: Decimal) -> str:
    """A decimal as the contract writes it: digits and a point, never an exponent.

    `str()` writes a zero at scale 8 as "0E-8" and one lot of 1e-8 as "1E-8"; a frontend
    showing the string would print that. `format(.., "f")` keeps the scale: "0.00000000".
    """
    return format(value, "f")


def scaled_decimal(value: Decimal) -> str:
    """A computed decimal at the 8 places every stored amount has: "1.00000000", never "1".

    For amounts that never went through a NUMERIC(24, 8) column (a strategy's position, a
    backtest's results), so they read like the ones that did.
    """
    return plain_decimal(to_money_scale(value))


# What a decimal in a request may look like as a string. `Decimal()` reads far more: other
# scripts' digits ("١"), underscores ("1_000"), surrounding blanks, a "+" sign, exponents;
# two readers of such a body (a proxy, an audit log, a frontend) may each read another number.
PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _plain_decimal_text(value: Any) -> Any:
    """Refuse a decimal string in anything but plain ASCII notation; numbers pass as they are."""
    if isinstance(value, str) and PLAIN_DECIMAL.fullmatch(value) is None:
        raise PydanticCustomError(
            "decimal_parsing",
            "Input should be a JSON number or a decimal string of ASCII digits with an optional"
            " leading '-' and an optional '.' followed by digits",
        )
    return value


# A decimal read from a request: a JSON number, or a string in plain notation ("-12.5").
DecimalInput = Annotated[Decimal, BeforeValidator(_plain_decimal_text)]
# Amounts, quantities and prices in requests: 16 digits before the point, 8 after; finite.
Amount = Annotated[DecimalInput, Field(max_digits=24, decimal_places=8, allow_inf_nan=False)]

# Money, quantities and prices in answers: decimal strings in plain notation.
DecimalText = Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str, when_used="json")]
# The same, computed rather than stored: rounded (half up) to 8 places.
ScaledDecimalText = Annotated[
    Decimal, PlainSerializer(scaled_decimal, return_type=str, when_used="json")
]


def jsonable(data: Any, *, scaled: bool = False) -> Any:
    """Untyped data (a strategy's status or event) made JSON-ready as the answers write it.

    `scaled`: decimals at 8 places (`scaled_decimal`), else as they are (`plain_decimal`).
    """
    return to_jsonable_python(_plain_decimals(data, scaled_decimal if scaled else plain_decimal))


def _plain_decimals(data: Any, render: Callable[[Decimal], str]) -> Any:
    if isinstance(data, Decimal):
        return render(data)
    if isinstance(data, dict):
        return {key: _plain_decimals(value, render) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_plain_decimals(value, render) for value in data]
    return data


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: `{items, total, limit, offset}`."""

    items: list[ItemT]
    total: int = Field(ge=0)
    limit: int = Field(ge=1, le=PAGE_LIMIT_MAX)
    offset: int = Field(ge=0)
