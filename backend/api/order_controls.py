"""Order controls: cancel all, and orders read or cancelled by their client order id."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep
from backend.api.deps.controls import OrderControlsDep
from backend.api.deps.parameters import IdempotencyKey, ResourceId
from backend.api.deps.principal import CurrentPrincipal, TraderPrincipal
from backend.api.responses import error_responses
from backend.schemas.order_controls import CancelAllRequest, CancelAllResult, OrderAmend
from backend.schemas.orders import OrderRead

router = APIRouter(prefix=f"{API_PREFIX}/orders", tags=["orders"], route_class=ApiRoute)

ClientOrderIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


@router.post(
    "/cancel-all",
    response_model=CancelAllResult,
    responses=error_responses(400, 401, 403, 422),
    summary="Cancel every open order, or those of a symbol, side or strategy",
)
async def cancel_all_orders(
    trader: TraderPrincipal,
    session: SessionDep,
    controls: OrderControlsDep,
    selection: CancelAllRequest | None = None,
) -> CancelAllResult:
    """Answered once each cancel is confirmed, or has had a second to be."""
    return await controls.cancel_all(
        session, user_id=trader.user_id, selection=selection or CancelAllRequest()
    )


@router.patch(
    "/{order_id}",
    response_model=OrderRead,
    responses=error_responses(400, 401, 403, 404, 409, 422),
    summary="Amend the price and/or quantity of an open order (cancel-replace)",
)
async def amend_order(
    order_id: ResourceId,
    change: OrderAmend,
    trader: TraderPrincipal,
    session: SessionDep,
    controls: OrderControlsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """200 with the replacement order, which names the order it replaced."""
    result = await controls.amend(
        session,
        user_id=trader.user_id,
        order_id=order_id,
        change=change,
        idempotency_key=idempotency_key,
    )
    body = result.body if result.replayed_body is None else json.dumps(result.replayed_body)
    return Response(body, media_type="application/json")


@router.get(
    "/by-client-id/{client_order_id}",
    response_model=OrderRead,
    responses=error_responses(401, 404, 422),
)
async def get_order_by_client_id(
    client_order_id: ClientOrderIdPath,
    user: CurrentPrincipal,
    session: SessionDep,
    controls: OrderControlsDep,
) -> OrderRead:
    """One of the caller's orders by the client order id it was placed with."""
    return await controls.get_by_client_id(
        session, user_id=user.user_id, client_order_id=client_order_id
    )


@router.post(
    "/by-client-id/{client_order_id}/cancel",
    response_model=OrderRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def cancel_order_by_client_id(
    client_order_id: ClientOrderIdPath,
    trader: TraderPrincipal,
    session: SessionDep,
    controls: OrderControlsDep,
) -> OrderRead:
    """Cancel as `POST /orders/{id}/cancel` does, the order named by its client order id."""
    return await controls.cancel_by_client_id(
        session, user_id=trader.user_id, client_order_id=client_order_id
    )
