"""Orders: place, list, read, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse, Response

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.binding import bound_by
from backend.api.deps.connection import SessionDep
from backend.api.deps.parameters import IdempotencyKey, PageParamsDep, ResourceId
from backend.api.deps.principal import (
    BEARER_SECURITY,
    CurrentPrincipal,
    TraderPrincipal,
    authenticated,
    caller_of,
)
from backend.api.deps.services import OrderServiceDep, order_service_of
from backend.api.deps.time_range import TimeRangeDep
from backend.api.order_arguments import order_id_arguments, order_ticket_arguments
from backend.api.responses import error_responses
from backend.models.enums import OrderSide, OrderStatus
from backend.schemas.common import NO_CONTROL_CHARACTERS, Page
from backend.schemas.orders import OrderCreate, OrderRead
from backend.services.orders import queries

router = APIRouter(prefix=f"{API_PREFIX}/orders", tags=["orders"], route_class=ApiRoute)


# The two hottest endpoints have their caller authenticated by their route, before FastAPI
# validates the request (`authenticated`), their arguments read by hand when the request is
# plainly valid (`bound_by`, binding.py), and call the order service directly: each
# dependency is a node FastAPI solves per request (README, Performance).
@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderRead,
    responses=error_responses(400, 401, 403, 404, 409, 422, 429),
    summary="Place an order (risk-rejected orders are stored and answered `rejected`)",
    openapi_extra=BEARER_SECURITY,
)
@authenticated(traders_only=True)
@bound_by(order_ticket_arguments)
async def place_order(
    request: OrderCreate, connection: Request, idempotency_key: IdempotencyKey = None
) -> Response:
    """201 with the order; 422 when it breaks a contract rule (nothing stored)."""
    result = await order_service_of(connection).submit_order(
        user_id=caller_of(connection).user_id, request=request, idempotency_key=idempotency_key
    )
    if result.replayed_body is not None:
        return JSONResponse(result.replayed_body, status_code=result.status_code)
    # Rendered once by the intake (the same JSON is stored for replays): FastAPI need not
    # validate and serialize the order again.
    return Response(result.body, status_code=result.status_code, media_type="application/json")


@router.get("", response_model=Page[OrderRead], responses=error_responses(401, 422))
async def list_orders(
    user: CurrentPrincipal,
    session: SessionDep,
    page: PageParamsDep,
    created: TimeRangeDep,
    status_filter: Annotated[
        list[OrderStatus] | None,
        Query(
            alias="status",
            description="Repeat for any of several: `?status=submitted&status=partially_filled`",
        ),
    ] = None,
    symbol: Annotated[str | None, Query(max_length=64, pattern=NO_CONTROL_CHARACTERS)] = None,
    side: OrderSide | None = None,
) -> Page[OrderRead]:
    """The caller's orders, newest first; `start` / `end` bound their creation time."""
    return await queries.list_orders(
        session,
        user.user_id,
        statuses=status_filter,
        symbol=symbol,
        side=side,
        limit=page.limit,
        offset=page.offset,
        created=created,
    )


@router.get(
    "/{order_id}",
    response_model=OrderRead,
    responses=error_responses(401, 404, 422),
    openapi_extra=BEARER_SECURITY,
)
@authenticated(traders_only=False)
@bound_by(order_id_arguments)
async def get_order(order_id: ResourceId, connection: Request) -> Response:
    """One of the caller's orders; 404 for anyone else's."""
    user_id = caller_of(connection).user_id
    order = await order_service_of(connection).get_order(user_id=user_id, order_id=order_id)
    # Rendered here (the hottest read): FastAPI need not check and serialize it again.
    return Response(order.model_dump_json(), media_type="application/json")


@router.post(
    "/{order_id}/cancel",
    response_model=OrderRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def cancel_order(
    order_id: ResourceId, trader: TraderPrincipal, session: SessionDep, orders: OrderServiceDep
) -> OrderRead:
    """Cancel: the order comes back `cancelled`, or still open while the gateway confirms."""
    return await orders.cancel_order(session, user_id=trader.user_id, order_id=order_id)
