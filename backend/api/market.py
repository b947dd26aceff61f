"""Market data: listed contracts, latest ticks, and tick injection into the paper market."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.identity import AdminUser, CurrentUser
from backend.api.deps.services import MarketDataDep
from backend.api.responses import error_responses
from backend.schemas.market import SymbolRead, TickInjectBody, TickRead

router = APIRouter(prefix=f"{API_PREFIX}/market", tags=["market"], route_class=ApiRoute)


SymbolPath = Annotated[str, Path(min_length=1, max_length=64, examples=["IF2412.CFFEX"])]


@router.get("/symbols", response_model=list[SymbolRead], responses=error_responses(401))
async def list_symbols(_: CurrentUser, market: MarketDataDep) -> Any:
    """Every tradable contract: `symbol` is what orders and subscriptions name."""
    return market.list_symbols()


@router.get(
    "/ticks/{symbol}",
    response_model=TickRead,
    responses=error_responses(401, 404, 422),
    summary="Latest tick of a symbol (404 `symbol_not_found` or `tick_not_found`)",
)
async def latest_tick(symbol: SymbolPath, _: CurrentUser, market: MarketDataDep) -> TickRead:
    """The newest tick any replica has seen of a listed symbol."""
    return await market.latest_tick(symbol)


@router.post(
    "/ticks",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=list[TickRead],
    responses=error_responses(400, 401, 403, 422),
    summary="Inject one tick or a list of ticks into the PAPER market (admin)",
)
async def inject_ticks(body: TickInjectBody, _: AdminUser, market: MarketDataDep) -> Any:
    """202 with the ticks as published (defaults filled in); orders match on them shortly."""
    ticks = body if isinstance(body, list) else [body]
    return await market.inject(ticks, single=not isinstance(body, list))
