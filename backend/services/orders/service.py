"""OrderService: validate, check risk, persist, route to the gateway, and answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow
from backend.core.errors import (
    ConflictError,
    DomainValidationError,
    NotFoundError,
    RedFireError,
)
from backend.core.monitoring.metrics import ORDER_REJECTIONS, ORDERS
from backend.models.enums import OrderStatus
from backend.models.order import Order
from backend.models.strategy import Strategy
from backend.schemas.orders import OrderCreate, OrderRead
from backend.services.orders import idempotency, state_machine
from backend.services.orders.events import OrderEventProcessor
from backend.services.orders.ports import MarketAccess
from backend.services.orders.risk import (
    OrderRateLimiter,
    RiskSettingsStore,
    open_order_count,
    static_rejection,
)
from backend.services.orders.validation import validate_order

logger = structlog.get_logger(__name__)
CANCEL_CONFIRM_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The HTTP status and body of an order submission (replayed for idempotent retries)."""

    status_code: int
    order: OrderRead | None = None
    replayed_body: dict[str, object] | None = None


class OrderService:
    """The one path every order takes, whether a person or a strategy places it."""

    def __init__(
        self,
        *,
        market: MarketAccess,
        risk: RiskSettingsStore,
        rate_limiter: OrderRateLimiter,
        events: OrderEventProcessor,
        replica: str,
        default_gateway: str,
    ) -> None:
        self.market = market
        self.risk = risk
        self.rate_limiter = rate_limiter
        self.events = events
        self.replica = replica
        self.default_gateway = default_gateway

    async def submit_order(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        request: OrderCreate,
        idempotency_key: str | None = None,
    ) -> OrderResult:
        """Place an order: 422 on contract errors (nothing stored), else 201 with the order.

        Commits twice on the caller's session: the pending order is committed before the
        gateway hears of it, so a crash from there on leaves a row that start-up
        reconciliation settles, never a gateway order RedFire forgot.
        """
        contract = self.market.get_contract(request.symbol)
        validate_order(request, contract)
        if request.strategy_id is not None:
            await self._check_strategy_owner(session, user_id, request.strategy_id)
        order = await self._create(session, user_id, request)
        if idempotency_key is not None:
            stored = await self._claim(session, user_id, idempotency_key, request, order.id)
            if stored is not None:
                return OrderResult(stored.status_code, replayed_body=stored.body)
        ORDERS.labels(status=OrderStatus.PENDING.value, side=request.side.value).inc()
        rejection = await self._risk_rejection(session, user_id, request)
        if rejection is not None:
            self._reject(order, rejection)
            return await self._answer(session, order, user_id, idempotency_key)
        await session.commit()
        vt_orderid, error = await self._route(order, request)
        if vt_orderid is None:
            current = await self._locked(session, order.id)
            self._reject(current, error or "gateway_error")
        else:
            current = await self._mark_submitted(session, order.id, vt_orderid)
        return await self._answer(session, current, user_id, idempotency_key)

    async def _mark_submitted(self, session: AsyncSession, order_id: int, vt_orderid: str) -> Order:
        """pending -> submitted in one guarded UPDATE ... RETURNING (the hot path)."""
        target = OrderStatus.SUBMITTED
        statement = (
            update(Order)
            .where(Order.id == order_id, Order.status.in_(state_machine.sources_of(target)))
            .values(status=target, vt_orderid=vt_orderid, updated_at=utcnow())
            .returning(Order)
        )
        options = {"populate_existing": True, "synchronize_session": False}
        updated = (await session.execute(statement, execution_options=options)).scalar()
        if updated is not None:
            state_machine.count(updated, target)
            return updated
        # The gateway's events got there first and moved it on; keep their status.
        current = await self._locked(session, order_id)
        current.vt_orderid = current.vt_orderid or vt_orderid
        return current

    @staticmethod
    async def _locked(session: AsyncSession, order_id: int) -> Order:
        current = await session.get(Order, order_id, with_for_update=True, populate_existing=True)
        assert current is not None
        return current

    async def _create(self, session: AsyncSession, user_id: int, request: OrderCreate) -> Order:
        order = Order(
            user_id=user_id,
            symbol=request.symbol,
            side=request.side,
            order_type=request.order_type,
            quantity=request.quantity,
            price=request.price,
            status=OrderStatus.PENDING,
            client_order_id=uuid.uuid4().hex,
            gateway=self.default_gateway,
            replica=self.replica,
            strategy_id=request.strategy_id,
        )
        session.add(order)
        await session.flush()
        return order

    @staticmethod
    async def _check_strategy_owner(session: AsyncSession, user_id: int, strategy_id: int) -> None:
        """An order may only name one of its owner's strategies (its fills feed that strategy)."""
        owner = await session.scalar(select(Strategy.user_id).where(Strategy.id == strategy_id))
        if owner != user_id:
            raise DomainValidationError(
                [
                    {
                        "type": "unknown_strategy",
                        "loc": ["body", "strategy_id"],
                        "msg": f"no strategy {strategy_id} of yours",
                    }
                ]
            )

    @staticmethod
    async def _claim(
        session: AsyncSession, user_id: int, key: str, request: OrderCreate, order_id: int
    ) -> idempotency.StoredResponse | None:
        """Claim the key for the order just flushed; on a retry, undo that order."""
        fingerprint = idempotency.request_fingerprint(request.model_dump())
        try:
            stored = await idempotency.claim_key(
                session, user_id=user_id, key=key, fingerprint=fingerprint, order_id=order_id
            )
        except RedFireError:
            await session.rollback()
            raise
        if stored is not None:
            await session.rollback()
        return stored

    async def _risk_rejection(
        self, session: AsyncSession, user_id: int, request: OrderCreate
    ) -> str | None:
        contract = self.market.get_contract(request.symbol)
        assert contract is not None  # validated before
        limits = await self.risk.get(session)
        tick = self.market.get_tick(request.symbol)
        reason = static_rejection(limits, request, contract, tick)
        if reason is not None:
            return reason
        if await self.rate_limiter.hit(user_id) > limits.max_orders_per_second:
            return "max_orders_per_second"
        # The new order is already flushed, so it counts itself.
        if await open_order_count(session, user_id) > limits.max_open_orders:
            return "max_open_orders"
        return None

    def _reject(self, order: Order, reason: str) -> None:
        if state_machine.move(order, OrderStatus.REJECTED, reason=reason):
            ORDER_REJECTIONS.labels(reason=reason.split(":", 1)[0]).inc()

    async def _route(self, order: Order, request: OrderCreate) -> tuple[str | None, str | None]:
        try:
            vt_orderid = await self.market.submit_order(
                request.symbol,
                request.side,
                request.order_type,
                request.quantity,
                request.price,
                reference=order.client_order_id,
                gateway=order.gateway,
            )
        except Exception as exc:
            logger.warning("order_routing_failed", order_id=order.id, error=str(exc))
            return None, f"gateway_error: {exc}"[:255]
        self.events.remember(vt_orderid, order.client_order_id)
        return vt_orderid, None

    async def _answer(
        self, session: AsyncSession, order: Order, user_id: int, key: str | None
    ) -> OrderResult:
        await session.flush()  # sets updated_at; every other column is already on `order`
        body = OrderRead.model_validate(order)
        if key is not None:
            await idempotency.store_response(
                session,
                user_id=user_id,
                key=key,
                status_code=201,
                body=body.model_dump(mode="json"),
            )
        return OrderResult(201, order=body)

    async def cancel_order(
        self, session: AsyncSession, *, user_id: int, order_id: int
    ) -> OrderRead:
        """Ask for a cancel; answer once the gateway confirms, or with the order still open."""
        order = await self._owned(session, user_id, order_id)
        if order.status.is_final:
            raise ConflictError(
                f"order {order.id} is {order.status.value}", code="order_not_cancellable"
            )
        if order.vt_orderid is None:
            raise ConflictError(
                f"order {order.id} is still being submitted; retry", code="order_not_cancellable"
            )
        vt_orderid = order.vt_orderid
        # Release the row (and SQLite's write lock) so the event processor can settle it.
        await session.commit()
        waiter = self.events.wait_for_final(order_id)
        try:
            await self.market.request_cancel(vt_orderid)
            await self.events.settle(waiter, CANCEL_CONFIRM_TIMEOUT)
        except Exception as exc:  # the gateway lost the order or is down: answer what we know
            logger.warning("cancel_request_failed", order_id=order_id, error=str(exc))
        finally:
            self.events.forget_waiter(order_id, waiter)
        await session.refresh(order)
        return OrderRead.model_validate(order)

    async def get_order(self, session: AsyncSession, *, user_id: int, order_id: int) -> OrderRead:
        """One of the user's orders (404 for anyone else's)."""
        return OrderRead.model_validate(await self._owned(session, user_id, order_id))

    @staticmethod
    async def _owned(session: AsyncSession, user_id: int, order_id: int) -> Order:
        order = await session.scalar(
            select(Order).where(Order.id == order_id, Order.user_id == user_id)
        )
        if order is None:
            raise NotFoundError(f"order {order_id} not found", code="order_not_found")
        return order
