"""Positions: close one with a market order for the opposite side."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse, Response

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep
from backend.api.deps.controls import OrderControlsDep
from backend.api.deps.parameters import IdempotencyKey
from backend.api.deps.principal import TraderPrincipal
from backend.api.responses import error_responses
from backend.schemas.order_controls import ClosePositionRequest
from backend.schemas.orders import OrderRead

router = APIRouter(prefix=f"{API_PREFIX}/positions", tags=["trades"], route_class=ApiRoute)

VtSymbol = Annotated[str, Path(min_length=3, max_length=64, pattern=r"^[\w-]+\.[A-Z]+$")]


@router.post(
    "/{vt_symbol}/close",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderRead,
    responses=error_responses(400, 401, 403, 404, 409, 422),
    summary="Close a position: a market order for the opposite side of what is held",
)
async def close_position(
    vt_symbol: VtSymbol,
    trader: TraderPrincipal,
    session: SessionDep,
    controls: OrderControlsDep,
    request: ClosePositionRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """201 with the closing order (risk-rejected ones are `rejected`, as any order's)."""
    result = await controls.close_position(
        session,
        user_id=trader.user_id,
        symbol=vt_symbol,
        request=request or ClosePositionRequest(),
        idempotency_key=idempotency_key,
    )
    if result.replayed_body is not None:
        return JSONResponse(result.replayed_body, status_code=result.status_code)
    return Response(result.body, status_code=result.status_code, media_type="application/json")
