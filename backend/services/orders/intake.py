"""OrderIntake: orders placed at the same moment share their transactions (group commit).

Callers validate an order against its contract, then hand it here and wait. One worker books
whatever has queued up in one transaction (owners who may still trade, strategy ownership,
idempotency claims, pre-trade risk, the rows) and commits; the accepted orders are then
routed to the gateway and their acknowledgements and idempotent answers recorded in a second
transaction, while the worker books the next batch. A 201 still means the order was
committed before the gateway heard of it, so a crash leaves a row that start-up
reconciliation settles, never a gateway order RedFire forgot; only the commits are shared,
so sixty concurrent orders cost two transactions instead of sixty. The second transaction
records the submissions itself, so the gateway's acknowledgements of these orders are held
and then dropped (events.py), and it announces the orders it moved to `submitted`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

import structlog
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow
from backend.core.database.conflicts import aborted_by_conflict
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import DomainValidationError, ServiceUnavailableError
from backend.core.monitoring.metrics import (
    ORDER_BATCH_SIZE,
    ORDER_INTAKE_QUEUED,
    ORDER_REJECTIONS,
    TRADING_HALTED,
)
from backend.models.enums import OrderStatus
from backend.models.strategy import Strategy
from backend.schemas.orders import OrderCreate, OrderRead
from backend.services.orders import idempotency, repository, state_machine
from backend.services.orders.buying_power import BuyingPower
from backend.services.orders.events import OrderEventProcessor
from backend.services.orders.holdings import read_for_booking
from backend.services.orders.idempotency import KeyClaim, StoredResponse
from backend.services.orders.owners import owner_refusals
from backend.services.orders.ports import MarketAccess
from backend.services.orders.repository import NewOrder, StoredOrder
from backend.services.orders.risk import (
    OrderRateLimiter,
    RiskLimits,
    RiskSettingsStore,
    static_rejection,
    valuation_price,
)

logger = structlog.get_logger(__name__)

MAX_BATCH = 256
# Batches routed and acknowledged at once while the worker books the next one.
MAX_ROUTING = 4
ACK_ATTEMPTS = 3
BOOK_ATTEMPTS = 3
STOP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The HTTP status and body of an order submission (replayed for idempotent retries)."""

    status_code: int
    order: OrderRead | None = None
    replayed_body: dict[str, object] | None = None
    body: bytes = b""  # `order` as JSON, rendered once for the answer and the stored replay


@dataclass(slots=True, eq=False)
class Submission:
    """One order waiting for its batch."""

    user_id: int
    request: OrderCreate
    claim: KeyClaim | None
    future: asyncio.Future[OrderResult]
    order_id: int = 0
    client_order_id: str = ""
    rejection: str | None = None
    hold_price: Decimal | None = None  # what it holds buying power at (risk.valuation_price)
    row: StoredOrder | None = None  # the order as last written

    def answer(self, result: OrderResult) -> None:
        """Hand the caller its answer (unless it stopped waiting)."""
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        """Hand the caller an error (unless it stopped waiting)."""
        if not self.future.done():
            self.future.set_exception(error)


class OrderIntake:
    """Books, routes and acknowledges orders in batches (see module docstring)."""

    def __init__(
        self,
        *,
        database: AsyncDatabaseManager,
        market: MarketAccess,
        risk: RiskSettingsStore,
        rate_limiter: OrderRateLimiter,
        buying_power: BuyingPower,
        events: OrderEventProcessor,
        replica: str,
        default_gateway: str,
    ) -> None:
        self.database = database
        self.market = market
        self.risk = risk
        self.rate_limiter = rate_limiter
        self.buying_power = buying_power
        self.events = events
        self.replica = replica
        self.default_gateway = default_gateway
        self._queue: asyncio.Queue[Submission] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._routing = asyncio.Semaphore(MAX_ROUTING)
        self._in_flight: set[asyncio.Task[None]] = set()

    async def submit(
        self, user_id: int, request: OrderCreate, idempotency_key: str | None
    ) -> OrderResult:
        """Queue a validated order and wait for its answer."""
        if self._worker is None:
            raise ServiceUnavailableError("order entry is not running", code="trading_unavailable")
        claim = None
        if idempotency_key is not None:
            fingerprint = idempotency.request_fingerprint(request.model_dump())
            claim = KeyClaim(user_id, idempotency_key, fingerprint)
        future: asyncio.Future[OrderResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Submission(user_id, request, claim, future))
        # Shielded: a client that disconnects does not cancel an order already in a batch.
        return await asyncio.shield(future)

    async def start(self) -> None:
        """Start the worker."""
        if self._worker is None:
            ORDER_INTAKE_QUEUED.set_function(self._queue.qsize)
            self._worker = asyncio.create_task(self._run(), name="order-intake")

    async def stop(self) -> None:
        """Finish what is queued and in flight (bounded), then stop."""
        if self._worker is None:
            return
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await self._queue.join()
        except TimeoutError:
            logger.error("order_intake_not_drained", queued=self._queue.qsize())
        self._worker.cancel()
        await asyncio.gather(self._worker, *self._in_flight, return_exceptions=True)
        self._worker = None
        while not self._queue.empty():
            self._queue.get_nowait().fail(
                ServiceUnavailableError("order entry stopped", code="trading_unavailable")
            )
            self._queue.task_done()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # While earlier batches hold every routing slot, orders keep queueing: the wait
            # makes this batch bigger instead of the backlog longer.
            await self._routing.acquire()
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                booked = await self._book_retrying(batch)
            except Exception as exc:  # the database refused the batch: each order fails alike
                logger.warning("order_batch_not_booked", orders=len(batch), error=repr(exc))
                for submission in batch:
                    submission.fail(exc)
                self._done(batch)
                continue
            task = asyncio.create_task(self._route_and_acknowledge(booked, batch))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    def _done(self, batch: list[Submission]) -> None:
        self._routing.release()
        for _ in batch:
            self._queue.task_done()

    # booking: one transaction for the batch

    async def _book_retrying(self, batch: list[Submission]) -> list[Submission]:
        """Book; again when PostgreSQL aborted the transaction to break a lock cycle.

        Such a cycle is rare (a retried key whose first answer is being stored while that
        order is rejected, say) and the booking is repeatable: everything it wrote to the
        database went with the aborted transaction. Only the per-second rate counts in the
        cache are taken again, so the batch counts twice towards this second's limit.
        """
        for attempt in range(1, BOOK_ATTEMPTS + 1):
            try:
                return await self._book([s for s in batch if not s.future.done()])
            except DBAPIError as exc:
                if attempt == BOOK_ATTEMPTS or not aborted_by_conflict(exc):
                    raise
                logger.warning("order_batch_retry", attempt=attempt, error=repr(exc))
        raise AssertionError("unreachable")

    async def _book(self, batch: list[Submission]) -> list[Submission]:
        """Store the batch's orders, pending or risk-rejected; answer those that stop here."""
        if not batch:
            return []
        ORDER_BATCH_SIZE.observe(len(batch))
        # The limits the shared cache holds are read while the keys are claimed: a guess of
        # the committed ones, which the booking reads with its books (holdings.py).
        cached_limits = asyncio.ensure_future(self.risk.cached())
        try:
            async with self.database.session() as session:
                batch = await self._check_owners(session, batch)
                batch = await self._check_strategies(session, batch)
                batch = await self._claim_keys(session, batch)
                if not batch:
                    return []
                await self._assess_risk(session, batch, await cached_limits)
                await self._insert(session, batch)
        finally:
            cached_limits.cancel()
        for submission in batch:
            state_machine.record(OrderStatus.PENDING, submission.request.side)
            if submission.rejection is not None:
                state_machine.record(OrderStatus.REJECTED, submission.request.side)
                ORDER_REJECTIONS.labels(reason=submission.rejection).inc()
        return batch

    @staticmethod
    async def _check_owners(session: AsyncSession, batch: list[Submission]) -> list[Submission]:
        """Only active traders' orders are booked, whatever a cached token check said."""
        refusals = await owner_refusals(session, {s.user_id for s in batch})
        if not refusals:
            return batch
        for submission in batch:
            if (refusal := refusals.get(submission.user_id)) is not None:
                submission.fail(refusal)
        return [s for s in batch if s.user_id not in refusals]

    @staticmethod
    async def _check_strategies(session: AsyncSession, batch: list[Submission]) -> list[Submission]:
        """An order may only name one of its owner's strategies (its fills feed that strategy)."""
        named = {s.request.strategy_id for s in batch if s.request.strategy_id is not None}
        if not named:
            return batch
        statement = select(Strategy.id, Strategy.user_id).where(Strategy.id.in_(named))
        owners: dict[int, int] = {row.id: row.user_id for row in await session.execute(statement)}
        kept = []
        for submission in batch:
            strategy_id = submission.request.strategy_id
            if strategy_id is None or owners.get(strategy_id) == submission.user_id:
                kept.append(submission)
                continue
            problem = {
                "type": "unknown_strategy",
                "loc": ["body", "strategy_id"],
                "msg": f"no strategy {strategy_id} of yours",
            }
            submission.fail(DomainValidationError([problem]))
        return kept

    @staticmethod
    async def _claim_keys(session: AsyncSession, batch: list[Submission]) -> list[Submission]:
        """Claim the batch's Idempotency-Keys; retries are answered here and go no further."""
        keyed = [s for s in batch if s.claim is not None]
        if not keyed:
            return batch
        outcomes = await idempotency.claim_keys(session, [cast(KeyClaim, s.claim) for s in keyed])
        stopped: set[int] = set()
        for submission, outcome in zip(keyed, outcomes, strict=True):
            if outcome is None:
                continue
            stopped.add(id(submission))
            if isinstance(outcome, StoredResponse):
                submission.answer(OrderResult(outcome.status_code, replayed_body=outcome.body))
            else:
                submission.fail(outcome)
        return [s for s in batch if id(s) not in stopped]

    async def _assess_risk(
        self, session: AsyncSession, batch: list[Submission], cached: RiskLimits | None
    ) -> None:
        """Pre-trade checks, in arrival order; a breach is stored as a rejected order.

        Checked against the limits, kill switch and books as committed, read (on PostgreSQL
        in one statement, under each user's lock) with the open-order counts. The per-second
        rates are counted in the cache meanwhile, for the orders the cached limits pass.
        """
        counted = [s for s in batch if cached is None or self._static(cached, s) is None]
        reads, rates = await asyncio.gather(
            read_for_booking(
                session, {s.user_id for s in batch}, self.buying_power.initial_balance
            ),
            self._rates_before(Counter(s.user_id for s in counted)),
        )
        limits = reads.limits
        if limits is None:  # the first order ever: the row is created (and cached)
            limits = await self.risk.load(session)
        elif limits != cached:
            await self.risk.remember(limits)  # the next booking's guess
        TRADING_HALTED.set(1 if limits.trading_halted else 0)
        for submission in batch:
            submission.rejection = self._static(limits, submission)
        counted_ids = {id(s) for s in counted}
        uncounted = [s for s in batch if s.rejection is None and id(s) not in counted_ids]
        if uncounted:  # the cache held other limits than the database: count these as well
            late = await self._rates_before(Counter(s.user_id for s in uncounted))
            rates = late | rates
        open_orders = reads.open_orders
        for submission in batch:
            if submission.rejection is not None:
                continue
            user_id, request = submission.user_id, submission.request
            rates[user_id] += 1
            if rates[user_id] > limits.max_orders_per_second:
                submission.rejection = "max_orders_per_second"
                continue
            open_orders[user_id] += 1
            if open_orders[user_id] > limits.max_open_orders:
                open_orders[user_id] -= 1
                submission.rejection = "max_open_orders"
                continue
            holdings = reads.holdings[user_id]
            fits = self.buying_power.take(
                holdings, request.symbol, request.side, request.quantity, submission.hold_price
            )
            if not fits:
                open_orders[user_id] -= 1
                submission.rejection = "insufficient_buying_power"

    def _static(self, limits: RiskLimits, submission: Submission) -> str | None:
        """The rules that need no database; notes the order's hold price on the way."""
        request = submission.request
        contract = self.market.get_contract(request.symbol)
        assert contract is not None  # validated before it was queued
        tick = self.market.get_tick(request.symbol)
        submission.hold_price = valuation_price(request, tick)
        return static_rejection(limits, request, contract, tick)

    async def _rates_before(self, per_user: Counter[int]) -> dict[int, int]:
        """Count each user's orders of this batch; how many each had this second before."""
        hits = [self.rate_limiter.hit(user_id, orders) for user_id, orders in per_user.items()]
        counts = await asyncio.gather(*hits)
        return {
            user_id: count - orders
            for (user_id, orders), count in zip(per_user.items(), counts, strict=True)
        }

    async def _insert(self, session: AsyncSession, batch: list[Submission]) -> None:
        """Store the batch's orders and point their Idempotency-Keys at them."""
        for submission in batch:
            submission.client_order_id = secrets.token_hex(16)
        new_orders = [
            NewOrder(
                user_id=submission.user_id,
                symbol=submission.request.symbol,
                side=submission.request.side,
                order_type=submission.request.order_type,
                quantity=submission.request.quantity,
                price=submission.request.price,
                status=_initial_status(submission),
                reject_reason=submission.rejection,
                client_order_id=submission.client_order_id,
                strategy_id=submission.request.strategy_id,
                hold_price=submission.hold_price,
                key=None if submission.claim is None else submission.claim.key,
            )
            for submission in batch
        ]
        stored = await repository.insert_orders(
            session, new_orders, gateway=self.default_gateway, replica=self.replica, now=utcnow()
        )
        for submission, row in zip(batch, stored, strict=True):
            submission.order_id = row["id"]
            submission.row = row

    # routing and acknowledgement: after the commit

    async def _route_and_acknowledge(
        self, booked: list[Submission], batch: list[Submission]
    ) -> None:
        routed: dict[int, str] = {}
        submitted: list[OrderRead] | None = None  # once committed: the orders it moved
        try:
            failed: dict[int, str] = {}
            for submission in booked:
                if submission.rejection is not None:
                    continue
                vt_orderid, error = await self._route(submission)
                if vt_orderid is None:
                    failed[submission.order_id] = error
                else:
                    routed[submission.order_id] = vt_orderid
            if booked:
                submitted = await self._acknowledge(booked, routed, failed)
        finally:
            self._done(batch)
            await self.events.acknowledged(
                list(routed.values()), committed=submitted is not None, submitted=submitted or []
            )

    async def _route(self, submission: Submission) -> tuple[str | None, str]:
        request = submission.request
        try:
            vt_orderid = await self.market.submit_order(
                request.symbol,
                request.side,
                request.order_type,
                request.quantity,
                request.price,
                reference=submission.client_order_id,
                gateway=self.default_gateway,
            )
        except Exception as exc:
            logger.warning("order_routing_failed", order_id=submission.order_id, error=str(exc))
            return None, f"gateway_error: {exc}"[:255]
        self.events.remember(vt_orderid, submission.client_order_id)
        self.events.hold_acknowledgement(vt_orderid)  # _acknowledge records the submission
        return vt_orderid, ""

    async def _acknowledge(
        self, booked: list[Submission], routed: dict[int, str], failed: dict[int, str]
    ) -> list[OrderRead] | None:
        """Record submissions and routing failures, store keyed answers, answer everyone.

        Returns the orders it moved to `submitted`, or None when nothing was committed.
        """
        for attempt in range(1, ACK_ATTEMPTS + 1):
            try:
                async with self.database.session() as session:
                    moved, submitted = await repository.mark_submitted(session, routed)
                    refused, rejected = await repository.mark_rejected(session, failed)
                    # Each order as the statement that wrote it last returned it.
                    rows = {s.order_id: s.row for s in booked} | submitted | rejected
                    orders = {order_id: _order_read(row) for order_id, row in rows.items()}
                    bodies = {order_id: read.model_dump_json() for order_id, read in orders.items()}
                    answers = [
                        (s.claim.user_id, s.claim.key, 201, bodies[s.order_id])
                        for s in booked
                        if s.claim is not None
                    ]
                    if answers:
                        await repository.store_responses(session, answers)
                break
            except DBAPIError as exc:
                # The event processor may hold these rows (a fill arrived already): a deadlock
                # or serialization failure aborts one side, and these statements are repeatable.
                if attempt == ACK_ATTEMPTS or exc.connection_invalidated:
                    return self._fail_all(booked, exc)
                logger.warning("order_ack_retry", attempt=attempt, error=repr(exc))
            except Exception as exc:
                return self._fail_all(booked, exc)
        for order_id in moved:
            state_machine.record(OrderStatus.SUBMITTED, orders[order_id].side)
        for order_id in refused:
            state_machine.record(OrderStatus.REJECTED, orders[order_id].side)
            ORDER_REJECTIONS.labels(reason="gateway_error").inc()
        for submission in booked:
            order_id = submission.order_id
            submission.answer(OrderResult(201, orders[order_id], body=bodies[order_id].encode()))

        return [orders[order_id] for order_id in moved]

    @staticmethod
    def _fail_all(booked: list[Submission], error: Exception) -> None:
        """The orders are stored; the events and reconciliation will settle them."""
        logger.warning("order_ack_failed", orders=len(booked), error=repr(error))
        for submission in booked:
            submission.fail(error)


def _order_read(row: StoredOrder | None) -> OrderRead:
    """The order a statement returned."""
    assert row is not None  # every booked order was inserted
    return OrderRead.model_validate(row)


def _initial_status(submission: Submission) -> OrderStatus:
    """A risk breach is answered as pending -> rejected before anyone saw it pending."""
    return OrderStatus.PENDING if submission.rejection is None else OrderStatus.REJECTED
