"""Market history: bars by symbol and interval, and what is stored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError

from backend.api.api_route import ApiRoute
from backend.api.bar_queries import EndQuery, StartQuery, SymbolQuery, bar_range
from backend.api.base_path import API_PREFIX
from backend.api.deps.platform import BarCoverageDep, BarPagesDep
from backend.api.deps.principal import CurrentPrincipal
from backend.api.responses import error_responses
from backend.schemas.bars import (
    BARS_LIMIT_DEFAULT,
    BARS_LIMIT_MAX,
    BarPageRead,
    BarSymbol,
    CoverageRead,
)
from backend.services.market.intervals import BarInterval
from backend.services.market.paging import BarRequest

router = APIRouter(prefix=f"{API_PREFIX}/market/bars", tags=["market"], route_class=ApiRoute)


@router.get(
    "",
    response_model=BarPageRead,
    responses=error_responses(401, 422),
    summary="Bars of a symbol: 1m, 5m, 15m, 1h or 1d, oldest first, paged by next_start",
)
async def list_bars(
    _: CurrentPrincipal,
    pages: BarPagesDep,
    symbol: SymbolQuery,
    interval: BarInterval = BarInterval.MINUTE,
    start: StartQuery = None,
    end: EndQuery = None,
    limit: Annotated[int, Query(ge=1, le=BARS_LIMIT_MAX)] = BARS_LIMIT_DEFAULT,
) -> Response:
    """Bars starting in [start, end) (start rounded down to the interval; buckets in UTC).

    Without `start`: the `limit` intervals up to the newest bar before `end`.
    """
    low, high = bar_range(start, end)
    request = BarRequest(symbol, interval, low, high, limit)
    body = await pages.page_json(request)
    return Response(body, media_type="application/json")


@router.get(
    "/coverage",
    response_model=list[CoverageRead],
    responses=error_responses(401, 422),
    summary="Per symbol: first and last stored bar, how many, and the gaps between",
)
async def bar_coverage(
    _: CurrentPrincipal,
    coverage: BarCoverageDep,
    symbol: Annotated[BarSymbol | None, Query(description="one symbol; default every one")] = None,
    interval: BarInterval = BarInterval.MINUTE,
    start: StartQuery = None,
    end: EndQuery = None,
    max_gaps: Annotated[int, Query(ge=0, le=1000)] = 100,
) -> Any:
    """Stored intervals only (1m, 1h, 1d); gaps oldest first, at most `max_gaps` per symbol."""
    if not interval.stored:
        raise RequestValidationError(
            [{"type": "enum", "loc": ("query", "interval"),
              "msg": "coverage is of a stored interval: 1m, 1h or 1d"}]
        )  # fmt: skip
    low, high = bar_range(start, end)
    return await coverage.coverage(interval, symbol=symbol, start=low, end=high, max_gaps=max_gaps)
