"""Order controls: cancel all, close a position, orders by client order id.

Each goes the one order path (OrderService): a close is a market order with the same risk
checks and state machine as any other; a cancel is asked for as a single cancel is.
"""

from __future__ import annotations

import asyncio
import hashlib

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import ConflictError, DomainValidationError, NotFoundError
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.models.order import Order
from backend.schemas.order_controls import (
    CancelAllRequest,
    CancelAllResult,
    ClosePositionRequest,
    OrderAmend,
)
from backend.schemas.orders import OrderCreate, OrderRead
from backend.services.orders import repository
from backend.services.orders.amendment import amend_order
from backend.services.orders.idempotency import request_fingerprint, stored_answer
from backend.services.orders.service import CANCEL_CONFIRM_TIMEOUT, OrderResult, OrderService

logger = structlog.get_logger(__name__)


class OrderControls:
    """Controls a trader's screen offers beyond placing and cancelling one order."""

    def __init__(self, orders: OrderService) -> None:
        self.orders = orders
        self.events = orders.events

    async def cancel_all(
        self, session: AsyncSession, *, user_id: int, selection: CancelAllRequest
    ) -> CancelAllResult:
        """Ask for the cancel of every matching open order; answer once each is confirmed
        or has had CANCEL_CONFIRM_TIMEOUT to be (those still open are listed as such).

        An order still being routed (no gateway id yet) cannot be cancelled yet: it is
        listed in `still_open`.
        """
        rows = await repository.open_orders_matching(
            session,
            user_id,
            symbol=selection.symbol,
            side=selection.side,
            strategy_id=selection.strategy_id,
        )
        await session.rollback()  # end the read: the cancels' events need SQLite's write lock
        await asyncio.gather(
            *(
                self._cancel_and_wait(order_id, vt_orderid, owner)
                for order_id, vt_orderid, owner in rows
                if vt_orderid is not None
            )
        )
        order_ids = [row[0] for row in rows]
        statuses = await repository.order_statuses(session, order_ids)
        cancelled = [i for i in order_ids if statuses.get(i) is OrderStatus.CANCELLED]
        still_open = [i for i in order_ids if i in statuses and statuses[i].is_open]
        return CancelAllResult(cancelled=cancelled, still_open=still_open, count=len(cancelled))

    async def _cancel_and_wait(self, order_id: int, vt_orderid: str, owner: str) -> None:
        waiter = self.events.wait_for_final(order_id)
        try:
            if await self.orders.request_cancel(order_id, vt_orderid, owner):
                await self.events.settle(waiter, CANCEL_CONFIRM_TIMEOUT)
        except Exception as exc:  # final at the gateway already, or the gateway is down
            logger.warning("cancel_request_failed", order_id=order_id, error=str(exc))
        finally:
            self.events.forget_waiter(order_id, waiter)

    async def close_position(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        symbol: str,
        request: ClosePositionRequest,
        idempotency_key: str | None = None,
    ) -> OrderResult:
        """A market order for the opposite side of what is held (all of it, or `quantity`).

        404 `symbol_not_found` for a contract not listed, 409 `no_position` when nothing is
        held, 422 when `quantity` exceeds the position. An Idempotency-Key replays the first
        answer, read before the position is (which the first close changed): a retried close
        never closes twice, nor answers `no_position`.
        """
        fingerprint = request_fingerprint({"close": symbol, **request.model_dump()})
        key = None if idempotency_key is None else closing_key(symbol, idempotency_key)
        if (
            key is not None
            and (replay := await stored_answer(session, user_id, key, fingerprint)) is not None
        ):
            return OrderResult(replay.status_code, replayed_body=replay.body)
        if self.orders.market.get_contract(symbol) is None:
            raise NotFoundError(f"symbol {symbol} is not listed", code="symbol_not_found")
        held = await repository.held_quantity(session, user_id, symbol)
        await session.rollback()  # end the read before the order is booked
        if held == 0:
            raise ConflictError(f"you hold no position in {symbol}", code="no_position")
        quantity = abs(held) if request.quantity is None else request.quantity
        if quantity > abs(held):
            problem = {
                "type": "exceeds_position",
                "loc": ["body", "quantity"],
                "msg": f"must be at most the {abs(held)} held",
            }
            raise DomainValidationError([problem])
        order = OrderCreate(
            symbol=symbol,
            side=OrderSide.SELL if held > 0 else OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=quantity,
            client_order_id=request.client_order_id,
        )
        return await self.orders.submit_order(
            user_id=user_id, request=order, idempotency_key=key, fingerprint=fingerprint
        )

    async def get_by_client_id(
        self, session: AsyncSession, *, user_id: int, client_order_id: str
    ) -> OrderRead:
        """One of the user's orders by its client order id (404 otherwise)."""
        return OrderRead.model_validate(
            await self._owned_by_client_id(session, user_id, client_order_id)
        )

    async def cancel_by_client_id(
        self, session: AsyncSession, *, user_id: int, client_order_id: str
    ) -> OrderRead:
        """Cancel one of the user's orders named by its client order id, as a cancel by id."""
        order = await self._owned_by_client_id(session, user_id, client_order_id)
        return await self.orders.cancel_order(session, user_id=user_id, order_id=order.id)

    @staticmethod
    async def _owned_by_client_id(
        session: AsyncSession, user_id: int, client_order_id: str
    ) -> Order:
        order = await repository.owned_by_client_id(
            session, user_id=user_id, client_order_id=client_order_id
        )
        if order is None:
            raise NotFoundError(
                f"no order with client_order_id {client_order_id!r}", code="order_not_found"
            )
        return order

    async def amend(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        order_id: int,
        change: OrderAmend,
        idempotency_key: str | None,
    ) -> OrderResult:
        """Cancel-replace an open order with a new price and/or quantity (amendment.py)."""
        return await amend_order(
            self.orders,
            session,
            user_id=user_id,
            order_id=order_id,
            change=change,
            idempotency_key=idempotency_key,
        )


def closing_key(symbol: str, idempotency_key: str) -> str:
    """The stored key of a position close: its own namespace, apart from order placements."""
    digest = hashlib.sha256(f"{symbol}:{idempotency_key}".encode()).hexdigest()
    return f"close:{digest}"
