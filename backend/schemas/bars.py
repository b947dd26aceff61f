"""Market history shapes: bars, a page of them, coverage, and what an import stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from backend.schemas.common import DecimalText

# A vt_symbol (`rb2501.SHFE`), ASCII only: symbols travel into COPY's CSV unquoted.
BarSymbol = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_-]+\.[A-Z]+$")
]
BARS_LIMIT_DEFAULT = 1000
BARS_LIMIT_MAX = 10_000


class BarRead(BaseModel):
    """One bar, labelled with its start (UTC); prices and volumes as decimal strings."""

    datetime: datetime
    open: DecimalText
    high: DecimalText
    low: DecimalText
    close: DecimalText
    volume: DecimalText
    turnover: DecimalText
    open_interest: DecimalText


class BarPageRead(BaseModel):
    """Bars oldest first; `next_start` is where the next page starts (null: no more)."""

    symbol: str
    interval: str
    bars: list[BarRead]
    next_start: datetime | None


class GapRead(BaseModel):
    """Missing bars [start, end): `start` is the first missing, `end` the next stored one."""

    start: datetime
    end: datetime
    missing: int = Field(ge=1)


class CoverageRead(BaseModel):
    """What is stored of one symbol at one interval."""

    model_config = {"from_attributes": True}

    symbol: str
    interval: str
    first: datetime
    last: datetime
    count: int
    gaps: list[GapRead]
    gaps_truncated: bool


class ImportedRead(BaseModel):
    """What an import stored: how many bars of a symbol and interval, first to last."""

    model_config = {"from_attributes": True}

    symbol: str
    interval: str
    bars: int
    first: datetime
    last: datetime
