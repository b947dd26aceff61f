"""OrderEventProcessor: gateway order and trade events -> orders, trades, positions, account.

Events are applied in arrival order by one worker, in batches of one transaction each, so a
burst of fills costs one commit, not one per event. A batch that fails on the database is
retried, never dropped.

The intake records the submission of the orders it routes itself (pending -> submitted, with
the gateway's order id, in the transaction that stores their answers). The gateway's
acknowledgement of such an order (status submitted) is held until the intake has committed,
then dropped: it would change nothing, and applying it would cost a transaction per batch of
orders. Should the intake fail to commit, the held acknowledgements are applied as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog
from sqlalchemy.exc import SQLAlchemyError

from backend.core.database.manager import AsyncDatabaseManager
from backend.core.monitoring.metrics import ORDER_EVENTS_QUEUED
from backend.domain.market import OrderUpdate, TradeFill
from backend.models.enums import OrderStatus
from backend.schemas.orders import OrderRead, TradeRead
from backend.services.orders.fills import AccountDefaults, BatchApplier
from backend.services.orders.ports import MarketAccess

logger = structlog.get_logger(__name__)
GatewayEvent = OrderUpdate | TradeFill
OrderListener = Callable[[OrderRead], Awaitable[None]]
TradeListener = Callable[[TradeRead, OrderRead], Awaitable[None]]
MAX_BATCH = 500
RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)


class OrderEventProcessor:
    """Consumes the bridge's order/trade events and keeps the books."""

    def __init__(
        self, database: AsyncDatabaseManager, market: MarketAccess, accounts: AccountDefaults
    ) -> None:
        self.database = database
        self.market = market
        self.accounts = accounts
        self._applier = BatchApplier(market, accounts)
        self._queue: asyncio.Queue[GatewayEvent] = asyncio.Queue()
        self._references: dict[str, str] = {}
        # Acknowledgements held while the intake records those orders' submission itself.
        self._held: dict[str, list[OrderUpdate]] = {}
        self._waiters: dict[int, list[asyncio.Future[None]]] = {}
        self._order_listeners: list[OrderListener] = []
        self._trade_listeners: list[TradeListener] = []
        self._rejection_listeners: list[OrderListener] = []
        self._worker: asyncio.Task[None] | None = None

    def remember(self, vt_orderid: str, client_order_id: str) -> None:
        """Link a gateway order id to our order before any of its events is applied."""
        self._references[vt_orderid] = client_order_id

    def hold_acknowledgement(self, vt_orderid: str) -> None:
        """The caller records this order's submission: hold the gateway's acknowledgements.

        Settle with `acknowledged` once the caller committed (or failed to).
        """
        self._held.setdefault(vt_orderid, [])

    async def acknowledged(
        self,
        vt_orderids: list[str],
        *,
        committed: bool,
        submitted: list[OrderRead],
        rejected: Sequence[OrderRead] = (),
    ) -> None:
        """The caller's commit of these orders' submission is over: settle what was held.

        Committed, the held acknowledgements are dropped and listeners hear of the orders it
        moved to `submitted`; call this right after the commit, before a later change of
        theirs can be announced. Not committed, they are applied after all. Rejection
        listeners hear of the `rejected` orders (committed rejected, by risk or the gateway).
        """
        for vt_orderid in vt_orderids:
            for update in self._held.pop(vt_orderid, []):
                if not committed:
                    self._queue.put_nowait(update)
        if committed:
            await self._notify(submitted, [])
        for order in rejected:
            for listener in self._rejection_listeners:
                await _safely(listener(order))

    def add_order_listener(self, listener: OrderListener) -> None:
        """Call `listener` with each order after its change commits."""
        self._order_listeners.append(listener)

    def add_rejection_listener(self, listener: OrderListener) -> None:
        """Call `listener` with each order rejected before it reached the gateway's events.

        Risk rejections and orders the gateway refused to take: their submitter learns of
        them from its answer, so the order listeners (strategies, finality) do not hear of
        them again; a live stream does.
        """
        self._rejection_listeners.append(listener)

    def add_trade_listener(self, listener: TradeListener) -> None:
        """Call `listener` with each new trade (and its order) after it commits."""
        self._trade_listeners.append(listener)

    def remove_trade_listener(self, listener: TradeListener) -> None:
        """Stop calling `listener` (no-op when it is not registered)."""
        if listener in self._trade_listeners:
            self._trade_listeners.remove(listener)

    async def on_event(self, event: GatewayEvent) -> None:
        """Bridge subscription callback: queue the event, never block the bridge."""
        self._queue.put_nowait(event)

    async def start(self) -> None:
        """Start the worker."""
        if self._worker is None:
            ORDER_EVENTS_QUEUED.set_function(self._queue.qsize)
            self._worker = asyncio.create_task(self._run(), name="order-events")

    async def stop(self) -> None:
        """Apply what is queued, then stop the worker."""
        if self._worker is None:
            return
        try:
            async with asyncio.timeout(10):
                await self._queue.join()
        except TimeoutError:
            logger.error("order_events_not_drained", queued=self._queue.qsize())
        self._worker.cancel()
        await asyncio.gather(self._worker, return_exceptions=True)
        self._worker = None

    async def drain(self) -> None:
        """Wait until every queued event has been applied."""
        await self._queue.join()

    def wait_for_final(self, order_id: int) -> asyncio.Future[None]:
        """A future resolved when `order_id` reaches a final status."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(order_id, []).append(future)
        return future

    @staticmethod
    async def settle(waiter: asyncio.Future[None], seconds: float) -> None:
        """Wait for `waiter` at most `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                await asyncio.shield(waiter)
        except TimeoutError:
            return

    def release_waiters(self, order_id: int) -> None:
        """`order_id` is final: wake whoever waits for it (this replica's events or another's)."""
        for waiter in self._waiters.pop(order_id, []):
            if not waiter.done():
                waiter.set_result(None)

    def forget_waiter(self, order_id: int, waiter: asyncio.Future[None]) -> None:
        """Drop a waiter that is no longer needed."""
        waiters = self._waiters.get(order_id, [])
        if waiter in waiters:
            waiters.remove(waiter)
        if not waiters:
            self._waiters.pop(order_id, None)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                unheld = [event for event in batch if not self._holds(event)]
                if unheld:
                    await self._apply_with_retry(unheld)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _holds(self, event: GatewayEvent) -> bool:
        """Hold `event` if it acknowledges an order whose submission the intake records."""
        held = self._held.get(event.vt_orderid)
        if held is None or not isinstance(event, OrderUpdate):
            return False
        if event.status is not OrderStatus.SUBMITTED:
            return False
        held.append(event)
        return True

    async def _apply_with_retry(self, batch: list[GatewayEvent]) -> None:
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            try:
                async with self.database.session() as session:
                    outcome = await self._applier.apply(session, batch, self._references)
                break
            except (SQLAlchemyError, OSError) as exc:
                if delay is None:
                    logger.error("order_events_failed", events=len(batch), error=repr(exc))
                    return
                logger.warning("order_events_retry", attempt=attempt + 1, error=repr(exc))
                await asyncio.sleep(delay)
        for vt_orderid in outcome.finished_vt_orderids:
            self._references.pop(vt_orderid, None)
        self._forget_recorded(batch)
        await self._notify(outcome.orders, outcome.trades)

    def _forget_recorded(self, batch: list[GatewayEvent]) -> None:
        """Let the gateway side drop what this batch recorded: the database has it now.

        Orders go once the gateway itself reported them final (their last update has been
        through vnpy's caches by then), trades once applied; vnpy and PAPER keep open
        orders either way.
        """
        finished: list[str] = []
        trades: list[str] = []
        for event in batch:
            if isinstance(event, TradeFill):
                trades.append(event.vt_tradeid)
            elif event.status.is_final:
                finished.append(event.vt_orderid)
        if finished or trades:
            self.market.forget(finished, trades)

    async def _notify(
        self, orders: list[OrderRead], trades: list[tuple[TradeRead, OrderRead]]
    ) -> None:
        for order in orders:
            if order.status.is_final:
                self.release_waiters(order.id)
            for listener in self._order_listeners:
                await _safely(listener(order))
        for trade, order in trades:
            for trade_listener in self._trade_listeners:
                await _safely(trade_listener(trade, order))


async def _safely(call: Awaitable[None]) -> None:
    try:
        await call
    except Exception:
        logger.exception("order_listener_failed")
