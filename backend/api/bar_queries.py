"""Query parameters of the bar endpoints: the range and the symbol (unknown ones: query_guard)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from fastapi.exceptions import RequestValidationError

from backend.schemas.bars import BarSymbol
from backend.schemas.common import IsoDateTime

# Datetimes a bar may carry: beyond these a range means nothing (and date arithmetic ends).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def moment(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= moment < LATEST:
        raise RequestValidationError(
            [{"type": "datetime_range", "loc": ("query", name),
              "msg": "must be from 1970-01-01 to before 2200-01-01"}]
        )  # fmt: skip
    return moment


def bar_range(
    start: datetime | None, end: datetime | None
) -> tuple[datetime | None, datetime | None]:
    low, high = moment(start, "start"), moment(end, "end")
    if low is not None and high is not None and low > high:
        raise RequestValidationError(
            [{"type": "range", "loc": ("query", "start"), "msg": "start must not be after end"}]
        )
    return low, high


SymbolQuery = Annotated[BarSymbol, Query(description="vt_symbol, e.g. rb2501.SHFE")]
StartQuery = Annotated[IsoDateTime | None, Query(description="ISO 8601; naive is UTC")]
EndQuery = Annotated[IsoDateTime | None, Query(description="exclusive; ISO 8601, naive is UTC")]
