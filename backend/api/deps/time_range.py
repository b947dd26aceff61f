"""`start` / `end` query parameters of the list endpoints, checked: [start, end) in UTC."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from backend.api.bar_queries import bar_range
from backend.schemas.common import IsoDateTime, TimeRange


async def get_time_range(
    start: Annotated[
        IsoDateTime | None, Query(description="from (inclusive); ISO 8601, naive is UTC")
    ] = None,
    end: Annotated[
        IsoDateTime | None, Query(description="until (exclusive); ISO 8601, naive is UTC")
    ] = None,
) -> TimeRange:
    """422 for a datetime outside 1970-2200 or `start` after `end`."""
    low, high = bar_range(start, end)
    return TimeRange(low, high)


TimeRangeDep = Annotated[TimeRange, Depends(get_time_range)]
