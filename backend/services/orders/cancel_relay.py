"""Cancels of orders resting on another replica, sent to the replica that routed them.

Only the replica that routed an order can cancel it: PAPER's book lives in that process, and a
broker session knows the orders it sent. Behind a load balancer a cancel request lands on any
replica, so one for another replica's order is published on that replica's own channel; the
owner asks its gateway, and the outcome reaches every replica as the order's events do.

Delivery is at most once. A cancel the owner did not hear (it is gone, or Redis is; or there is
no other replica, one process on its own) leaves the
order open, the answer says so, and the client may ask again; a departed replica's orders are
settled by the replica sweep (services/replicas).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import structlog

from backend.core.messaging.port import Messaging, MessagingUnavailableError
from backend.core.monitoring.metrics import CANCELS_RELAYED

logger = structlog.get_logger(__name__)

Cancel = Callable[[str], Awaitable[None]]


def cancel_channel(replica: str) -> str:
    """Where `replica` hears the cancels of its orders."""
    return f"orders:cancel:{replica}"


class CancelRelay:
    """One channel per replica on the messaging port: a cancel goes to the order's owner."""

    def __init__(self, messaging: Messaging, *, replica: str, cancel: Cancel) -> None:
        self.messaging = messaging
        self.replica = replica
        self.cancel = cancel
        self._cancels: set[asyncio.Task[None]] = set()
        self._subscription = messaging.subscribe(
            [cancel_channel(replica)], self._received, name="cancel-relay"
        )

    @property
    def listening(self) -> asyncio.Event:
        """Set while no cancel for this replica's orders can be missed."""
        return self._subscription.listening

    async def forward(self, owner: str, order_id: int, vt_orderid: str) -> bool:
        """Publish to the owner's channel; False (logged and counted) when nobody heard."""
        message = json.dumps({"order_id": order_id, "vt_orderid": vt_orderid})
        try:
            listeners = await self.messaging.publish(cancel_channel(owner), message)
        except MessagingUnavailableError as exc:
            logger.warning("cancel_relay_failed", order_id=order_id, owner=owner, error=str(exc))
            CANCELS_RELAYED.labels(outcome="failed").inc()
            return False
        if not listeners:
            logger.warning("cancel_not_relayed", order_id=order_id, owner=owner, reason="unheard")
        CANCELS_RELAYED.labels(outcome="delivered" if listeners else "unheard").inc()
        return listeners > 0

    async def start(self) -> None:
        """Start listening on this replica's channel."""
        await self._subscription.start()

    async def stop(self) -> None:
        """Stop listening; cancels already handed to the gateway finish."""
        await self._subscription.stop()
        await asyncio.gather(*self._cancels, return_exceptions=True)

    def _received(self, text: str) -> None:
        try:
            request = json.loads(text)
            order_id, vt_orderid = int(request["order_id"]), str(request["vt_orderid"])
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("cancel_relay_bad_message", error=repr(exc))
            return
        task = asyncio.create_task(self._cancel(order_id, vt_orderid))
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)

    async def _cancel(self, order_id: int, vt_orderid: str) -> None:
        try:
            await self.cancel(vt_orderid)
        except Exception as exc:  # already final and forgotten, or the gateway is down
            logger.warning("relayed_cancel_failed", order_id=order_id, error=str(exc))
