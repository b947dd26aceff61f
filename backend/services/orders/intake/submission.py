"""An order waiting in the intake, and the answer its caller gets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal

from backend.schemas.orders import OrderCreate, OrderRead
from backend.services.orders.idempotency import KeyClaim
from backend.services.orders.repository import StoredOrder


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
    replaces_order_id: int | None = None  # the order an amendment cancelled for this one

    def answer(self, result: OrderResult) -> None:
        """Hand the caller its answer (unless it stopped waiting)."""
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        """Hand the caller an error (unless it stopped waiting)."""
        if not self.future.done():
            self.future.set_exception(error)
