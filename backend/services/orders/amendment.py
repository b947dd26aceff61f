"""Amending an open order: cancel-replace, through the one order path.

The order is cancelled at its gateway; once the cancel is confirmed, a replacement with the
new price and/or quantity is placed as any order is (contract rules, pre-trade risk, the
state machine) and names the order it replaces (`replaces_order_id`). The replacement's
quantity is what is left to fill of the new total: the new total less what the original
filled before its cancel. A client order id the client chose moves to the replacement.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import ConflictError, DomainValidationError, NotFoundError
from backend.models.enums import OrderStatus, OrderType
from backend.models.order import Order
from backend.schemas.order_controls import OrderAmend
from backend.schemas.orders import OrderCreate
from backend.services.orders import repository
from backend.services.orders.idempotency import request_fingerprint, stored_answer
from backend.services.orders.service import OrderResult, OrderService
from backend.services.orders.validation import validate_order


def amendment_key(order_id: int, idempotency_key: str) -> str:
    """The stored key of an amendment: its own namespace, apart from order placements."""
    digest = hashlib.sha256(f"{order_id}:{idempotency_key}".encode()).hexdigest()
    return f"amend:{digest}"


async def amend_order(
    orders: OrderService,
    session: AsyncSession,
    *,
    user_id: int,
    order_id: int,
    change: OrderAmend,
    idempotency_key: str | None,
) -> OrderResult:
    """Cancel-replace one of the user's open orders; the replacement is the answer.

    404 `order_not_found`; 409 `order_not_amendable` when the order is final (or becomes so
    before its cancel is confirmed), its cancel is not confirmed within the cancel's wait, or
    it filled its new total meanwhile; 422 for a market order or a change that breaks a
    contract rule (nothing changed then). An Idempotency-Key replays the first answer.
    """
    fingerprint = request_fingerprint({"amend": order_id, **change.model_dump()})
    key = None if idempotency_key is None else amendment_key(order_id, idempotency_key)
    if (
        key is not None
        and (replay := await stored_answer(session, user_id, key, fingerprint)) is not None
    ):
        return OrderResult(replay.status_code, replayed_body=replay.body)
    order = await repository.owned(session, user_id=user_id, order_id=order_id)
    if order is None:
        raise NotFoundError(f"order {order_id} not found", code="order_not_found")
    replacement = _replacement(orders, order, change)
    total = replacement.quantity + order.filled_quantity  # the new total (filled included)
    chosen = order.client_ref if order.client_ref != order.client_order_id else None
    try:
        cancelled = await orders.cancel_order(session, user_id=user_id, order_id=order_id)
    except ConflictError as exc:
        raise ConflictError(exc.detail, code="order_not_amendable") from None
    if cancelled.status is not OrderStatus.CANCELLED:
        raise ConflictError(
            f"the cancel of order {order_id} is not confirmed yet; read it and retry",
            code="order_not_amendable",
        )
    remaining = total - Decimal(cancelled.filled_quantity)
    if remaining <= 0:
        raise ConflictError(
            f"order {order_id} filled {cancelled.filled_quantity} before it was cancelled",
            code="order_not_amendable",
        )
    if chosen is not None:
        await repository.release_client_id(session, order_id)
    # End this transaction (its reads, the release) before the replacement is booked: on
    # SQLite a reader left open would keep the booking from committing.
    await session.commit()
    replacement = replacement.model_copy(update={"quantity": remaining, "client_order_id": chosen})
    return await orders.submit_order(
        user_id=user_id,
        request=replacement,
        idempotency_key=key,
        fingerprint=fingerprint,
        replaces_order_id=order_id,
    )


def _replacement(orders: OrderService, order: Order, change: OrderAmend) -> OrderCreate:
    """The replacement as it would be placed now; 409/422 before anything is changed."""
    if order.status.is_final:
        raise ConflictError(f"order {order.id} is {order.status.value}", code="order_not_amendable")
    if order.order_type is OrderType.MARKET:
        problem = {
            "type": "market_order",
            "loc": ["body"],
            "msg": "a market order cannot be amended",
        }
        raise DomainValidationError([problem])
    total = order.quantity if change.quantity is None else change.quantity
    if total <= order.filled_quantity:
        message = f"must be more than the {order.filled_quantity} filled"
        raise DomainValidationError(
            [{"type": "filled", "loc": ["body", "quantity"], "msg": message}]
        )
    replacement = OrderCreate(
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        quantity=total - order.filled_quantity,
        price=order.price if change.price is None else change.price,
        limit_price=order.limit_price if change.limit_price is None else change.limit_price,
        time_in_force=order.time_in_force,
        strategy_id=order.strategy_id,
    )
    validate_order(replacement, orders.market.get_contract(order.symbol))
    return replacement
