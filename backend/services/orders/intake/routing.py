"""Routing: booked orders handed to the gateway, after the booking committed."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from backend.domain.market import OrderTicket
from backend.services.orders.events import OrderEventProcessor
from backend.services.orders.intake.submission import Submission
from backend.services.orders.ports import MarketAccess

logger = structlog.get_logger(__name__)


@dataclass(slots=True)
class Routed:
    """What the gateway said: order id -> vt_orderid it took, order id -> why it refused."""

    taken: dict[int, str] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)


class GatewayRouter:
    """Sends orders to the default gateway and tells the event processor what to expect."""

    def __init__(
        self, *, market: MarketAccess, events: OrderEventProcessor, default_gateway: str
    ) -> None:
        self.market = market
        self.events = events
        self.default_gateway = default_gateway

    async def route(self, booked: list[Submission], routed: Routed) -> None:
        """Route each booked order risk did not reject, one at a time, into `routed`.

        Filled in as it goes, so the caller knows what reached the gateway even when this
        is interrupted.
        """
        for submission in booked:
            if submission.rejection is not None:
                continue
            vt_orderid, error = await self._route(submission)
            if vt_orderid is None:
                routed.refused[submission.order_id] = error
            else:
                routed.taken[submission.order_id] = vt_orderid

    async def _route(self, submission: Submission) -> tuple[str | None, str]:
        request = submission.request
        try:
            ticket = OrderTicket(
                request.symbol,
                request.side,
                request.order_type,
                request.quantity,
                request.price,
                reference=submission.client_order_id,
                time_in_force=request.time_in_force,
                limit_price=request.limit_price,
            )
            vt_orderid = await self.market.submit_order(ticket, gateway=self.default_gateway)
        except Exception as exc:
            logger.warning("order_routing_failed", order_id=submission.order_id, error=str(exc))
            return None, f"gateway_error: {exc}"[:255]
        self.events.remember(vt_orderid, submission.client_order_id)
        # The acknowledgement (acknowledgement.py) records the submission itself.
        self.events.hold_acknowledgement(vt_orderid)
        return vt_orderid, ""
