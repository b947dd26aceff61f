"""An order waiting in the intake, and the answer its caller gets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal

from backend.schemas.orders import OrderCreate, OrderRead
from backend.services.orders.idempotency import KeyClaim
from backend.services.orders.repository import StoredOrder
from backend.services.orders.risk import RiskBreach


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
    breach: RiskBreach | None = None  # the first risk rule it breaks
    hold_price: Decimal | None = None  # what it holds buying power at (risk.valuation_price)
    row: StoredOrder | None = None  # the order as last written
    replaces_order_id: int | None = None  # the order an amendment cancelled for this one

    @property
    def rejection(self) -> str | None:
        """The risk rule it breaks (its `reject_reason`), or None."""
        return None if self.breach is None else self.breach.rule

    def reject(self, rule: str, limit: Decimal | int, value: Decimal | int) -> None:
        """Mark it rejected by `rule`: its `limit` and the order's `value` under it."""
        self.breach = RiskBreach(rule, Decimal(limit), Decimal(value))

    def answer(self, result: OrderResult) -> None:
        """Hand the caller its answer (unless it stopped waiting)."""
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        """Hand the caller an error (unless it stopped waiting)."""
        if not self.future.done():
            self.future.set_exception(error)
