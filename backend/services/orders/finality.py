"""Order finality: "order N is final" on a channel of its own, heard by every replica.

A cancel relayed to the replica that routed the order waits, on the replica that took the
request, until the order is final (OrderService.cancel). The routing replica records the
outcome and announces the final orders here; every replica releases its waiters. Final
orders of one burst travel as one message (a JSON array of ids). Delivery is at most once:
a waiter that hears nothing reads the order again when its wait ends.
"""

from __future__ import annotations

import asyncio
import json

import structlog

from backend.core.messaging.port import Messaging, MessagingUnavailableError
from backend.schemas.orders import OrderRead
from backend.services.orders.events import OrderEventProcessor

logger = structlog.get_logger(__name__)

CHANNEL = "orders:final"


class OrderFinality:
    """Announce this replica's final orders; release waiters on the others' announcements."""

    def __init__(self, messaging: Messaging, events: OrderEventProcessor) -> None:
        self.messaging = messaging
        self.events = events
        self._pending: list[int] = []
        self._sending: asyncio.Task[None] | None = None
        self._subscription = messaging.subscribe([CHANNEL], self._heard, name="order-finality")

    @property
    def listening(self) -> asyncio.Event:
        """Set while no announcement can be missed."""
        return self._subscription.listening

    async def on_order(self, order: OrderRead) -> None:
        """An order listener: a final order is announced (its waiters here are released)."""
        if not order.status.is_final or not self.messaging.shared:
            return  # one process alone: its waiters were released as the order was recorded
        self._pending.append(order.id)
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send(), name="order-finality")

    async def start(self) -> None:
        """Hear the other replicas' announcements."""
        await self._subscription.start()

    async def stop(self) -> None:
        """Send what is pending, then stop hearing."""
        if self._sending is not None:
            await asyncio.gather(self._sending, return_exceptions=True)
        await self._subscription.stop()

    async def _send(self) -> None:
        while self._pending:
            ids, self._pending = self._pending, []
            try:
                await self.messaging.publish(CHANNEL, json.dumps(ids))
            except MessagingUnavailableError as exc:
                logger.warning("order_finality_publish_failed", orders=len(ids), error=str(exc))

    def _heard(self, text: str) -> None:
        try:
            order_ids = json.loads(text)
            if not isinstance(order_ids, list) or any(type(i) is not int for i in order_ids):
                raise TypeError("an announcement is a list of order ids")
        except (ValueError, TypeError) as exc:
            logger.warning("order_finality_bad_message", error=repr(exc))
            return
        for order_id in order_ids:
            self.events.release_waiters(order_id)
