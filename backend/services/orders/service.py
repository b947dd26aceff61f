"""OrderService: validate and place (through OrderIntake), read and cancel orders."""

from __future__ import annotations

import asyncio
import time

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import ConflictError, NotFoundError
from backend.models.enums import OrderStatus
from backend.models.order import Order
from backend.schemas.orders import OrderCreate, OrderRead
from backend.services.orders import repository
from backend.services.orders.cancel_relay import CancelRelay
from backend.services.orders.events import OrderEventProcessor
from backend.services.orders.intake import OrderIntake, OrderResult
from backend.services.orders.validation import refuse_unconvertible, validate_order

__all__ = ["OrderResult", "OrderService"]

logger = structlog.get_logger(__name__)
CANCEL_CONFIRM_TIMEOUT = 1.0
UNROUTED_WAIT_SECONDS = 5.0
UNROUTED_POLL_SECONDS = 0.05


class OrderService:
    """The one path every order takes, whether a person or a strategy places it."""

    def __init__(
        self, *, intake: OrderIntake, events: OrderEventProcessor, relay: CancelRelay
    ) -> None:
        self.intake = intake
        self.market = intake.market
        self.events = events
        self.relay = relay
        self.replica = intake.replica

    async def submit_order(
        self,
        *,
        user_id: int,
        request: OrderCreate,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        replaces_order_id: int | None = None,
    ) -> OrderResult:
        """Place an order: 422 on contract errors (nothing stored), else 201 with the order.

        Risk-rejected orders are stored and answered `rejected`; accepted ones are committed
        `pending` before the gateway hears of them (see OrderIntake). An amendment names the
        order it replaces and its own request's fingerprint (amendment.py).
        """
        validate_order(request, self.market.get_contract(request.symbol))
        refuse_unconvertible(request.symbol, self.events.accounts)
        return await self.intake.submit(
            user_id,
            request,
            idempotency_key,
            fingerprint=fingerprint,
            replaces_order_id=replaces_order_id,
        )

    async def cancel_order(
        self, session: AsyncSession, *, user_id: int, order_id: int
    ) -> OrderRead:
        """Ask for a cancel; answer once the gateway confirms, or with the order still open.

        409 `order_not_cancellable` when the order is final before the cancel is asked for,
        or turned out filled or rejected by the time it is answered.
        """
        order = await self._owned(session, user_id, order_id)
        if order.status.is_final:
            raise ConflictError(
                f"order {order.id} is {order.status.value}", code="order_not_cancellable"
            )
        if order.vt_orderid is None:
            raise ConflictError(
                f"order {order.id} is still being submitted; retry", code="order_not_cancellable"
            )
        vt_orderid, owner = order.vt_orderid, order.replica
        # Release the row (and SQLite's write lock) so the event processor can settle it.
        await session.commit()
        waiter = self.events.wait_for_final(order_id)
        try:
            # The owner's events reach this replica as well (app/stream.py).
            if await self.request_cancel(order_id, vt_orderid, owner):
                await self.events.settle(waiter, CANCEL_CONFIRM_TIMEOUT)
        except Exception as exc:  # the gateway lost the order or is down: answer what we know
            logger.warning("cancel_request_failed", order_id=order_id, error=str(exc))
        finally:
            self.events.forget_waiter(order_id, waiter)
        await session.refresh(order)
        if order.status.is_final and order.status is not OrderStatus.CANCELLED:
            # A fill (or the gateway's rejection) won the race: the order was not cancelled.
            raise ConflictError(
                f"order {order.id} is {order.status.value}", code="order_not_cancellable"
            )
        return OrderRead.model_validate(order)

    async def cancel_open_orders_of(self, session: AsyncSession, user_id: int) -> int:
        """Ask for the cancel of every open order of a user who may no longer trade.

        A deactivated user's tokens stop working and a viewer may change nothing: neither
        could cancel them. An order booked just before the change may still be on its way
        to its gateway (pending, no vt_orderid yet): it is waited for, up to
        UNROUTED_WAIT_SECONDS, and cancelled as well. Confirmations are not awaited (the
        gateways' events settle the orders). Returns how many cancels were asked for.
        """
        asked: set[int] = set()
        deadline = time.monotonic() + UNROUTED_WAIT_SECONDS
        while True:
            orders = await repository.open_orders_of_user(session, user_id)
            # End the read: the acknowledgement being waited for needs SQLite's write lock.
            await session.rollback()
            for order_id, vt_orderid, owner in orders:
                if vt_orderid is None or order_id in asked:
                    continue
                asked.add(order_id)
                try:
                    await self.request_cancel(order_id, vt_orderid, owner)
                except Exception as exc:  # already final at the gateway, or the gateway is down
                    logger.warning("cancel_request_failed", order_id=order_id, error=str(exc))
            unrouted = any(vt_orderid is None for _, vt_orderid, _ in orders)
            if not unrouted or time.monotonic() >= deadline:
                return len(asked)
            await asyncio.sleep(UNROUTED_POLL_SECONDS)

    async def request_cancel(self, order_id: int, vt_orderid: str, owner: str) -> bool:
        """Ask the order's gateway through its replica (cancel_relay.py); False if none heard."""
        if owner == self.replica:
            await self.market.request_cancel(vt_orderid)
            return True
        return await self.relay.forward(owner, order_id, vt_orderid)

    async def get_order(self, *, user_id: int, order_id: int) -> OrderRead:
        """One of the user's orders (404 for anyone else's), in one SELECT."""
        row = await repository.find_owned(self.intake.database, user_id=user_id, order_id=order_id)
        if row is None:
            raise NotFoundError(f"order {order_id} not found", code="order_not_found")
        return OrderRead.model_validate(row)

    @staticmethod
    async def _owned(session: AsyncSession, user_id: int, order_id: int) -> Order:
        order = await repository.owned(session, user_id=user_id, order_id=order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} not found", code="order_not_found")
        return order
