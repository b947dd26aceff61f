"""OrderIntake: the queue and the worker that batches orders (see the package docstring)."""

from __future__ import annotations

import asyncio

import structlog

from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import ServiceUnavailableError
from backend.core.monitoring.metrics import ORDER_INTAKE_QUEUED
from backend.schemas.orders import OrderCreate
from backend.services.orders import idempotency
from backend.services.orders.buying_power import BuyingPower
from backend.services.orders.events import OrderEventProcessor
from backend.services.orders.idempotency import KeyClaim
from backend.services.orders.intake.acknowledgement import (
    Announced,
    OrderAcknowledgement,
    risk_rejected,
)
from backend.services.orders.intake.booking import OrderBooking
from backend.services.orders.intake.pretrade import PreTradeRisk
from backend.services.orders.intake.routing import GatewayRouter, Routed
from backend.services.orders.intake.submission import OrderResult, Submission
from backend.services.orders.ports import MarketAccess
from backend.services.orders.risk import OrderRateLimiter, RiskSettingsStore

logger = structlog.get_logger(__name__)

MAX_BATCH = 256
# A queue deeper than this is booked in two halves, neither smaller than this (batch_size).
SPLIT_ABOVE = 32
# Batches routed and acknowledged at once while the worker books the next one.
MAX_ROUTING = 4
STOP_TIMEOUT = 10.0


def batch_size(queued: int) -> int:
    """How many of `queued` orders the next booking takes: all of up to SPLIT_ABOVE, half of
    a deeper queue (never fewer than SPLIT_ABOVE), at most MAX_BATCH.

    Booked whole, a deep queue moves in lock-step: every caller waits on one booking's round
    trips with nothing else for the loop to do, then all are answered and all their next
    orders parsed while no booking runs. Booked in halves, one half is answered and its
    callers' next orders read while the other half's booking waits on PostgreSQL (measured
    with 64 and 256 callers: README, the order intake). Below SPLIT_ABOVE a booking's fixed cost
    (its transaction, the cache's round trips) outweighs what the overlap saves.
    """
    if queued <= SPLIT_ABOVE:
        return queued
    return min(MAX_BATCH, max(SPLIT_ABOVE, (queued + 1) // 2))


class OrderIntake:
    """Books, routes and acknowledges orders in batches (see the package docstring)."""

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
        self.events = events
        self.replica = replica
        pretrade = PreTradeRisk(
            market=market, risk=risk, rate_limiter=rate_limiter, buying_power=buying_power
        )
        self._booking = OrderBooking(
            database=database,
            pretrade=pretrade,
            replica=replica,
            default_gateway=default_gateway,
            waiting=lambda: not self._queue.empty(),
        )
        self._router = GatewayRouter(market=market, events=events, default_gateway=default_gateway)
        self._acknowledgement = OrderAcknowledgement(database)
        self._queue: asyncio.Queue[Submission] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._routing = asyncio.Semaphore(MAX_ROUTING)
        self._in_flight: set[asyncio.Task[None]] = set()

    async def submit(
        self,
        user_id: int,
        request: OrderCreate,
        idempotency_key: str | None,
        *,
        fingerprint: str | None = None,
        replaces_order_id: int | None = None,
    ) -> OrderResult:
        """Queue a validated order and wait for its answer.

        `fingerprint` is the keyed request's when it is not the order's own (an amendment's
        body); `replaces_order_id` the order an amendment cancelled for this one.
        """
        if self._worker is None:
            raise ServiceUnavailableError("order entry is not running", code="trading_unavailable")
        claim = None
        if idempotency_key is not None:
            if fingerprint is None:
                fingerprint = idempotency.request_fingerprint(request.model_dump())
            claim = KeyClaim(user_id, idempotency_key, fingerprint)
        future: asyncio.Future[OrderResult] = asyncio.get_running_loop().create_future()
        submission = Submission(user_id, request, claim, future)
        submission.replaces_order_id = replaces_order_id
        self._queue.put_nowait(submission)
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
        await self._booking.transactions.close()
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
            size = batch_size(self._queue.qsize() + 1)
            while len(batch) < size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                booked = await self._booking.book(batch)
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

    async def _route_and_acknowledge(
        self, booked: list[Submission], batch: list[Submission]
    ) -> None:
        """After the booking's commit: route, then record and answer (a second transaction)."""
        routed = Routed()
        announced: Announced | None = None  # once committed: what it moved or rejected
        try:
            await self._router.route(booked, routed)
            if booked:
                announced = await self._acknowledgement.acknowledge(booked, routed)
        finally:
            self._done(batch)
            await self.events.acknowledged(
                list(routed.taken.values()),
                committed=announced is not None,
                submitted=[] if announced is None else announced.submitted,
                rejected=risk_rejected(booked) if announced is None else announced.rejected,
            )
