"""What the order service needs from the market side (RedFireVnPyEngine provides it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from backend.domain.market import ContractInfo, OrderTicket, OrderUpdate, TickSnapshot


class MarketAccess(Protocol):
    """Contracts, last ticks and order routing."""

    def get_contract(self, vt_symbol: str) -> ContractInfo | None:
        """The listed contract, or None."""

    def get_tick(self, vt_symbol: str) -> TickSnapshot | None:
        """The latest tick, or None."""

    async def submit_order(self, ticket: OrderTicket, gateway: str | None = None) -> str:
        """Send an order (to `gateway`, else its contract's); return its vt_orderid or raise."""

    async def request_cancel(self, vt_orderid: str) -> None:
        """Ask the gateway to cancel; the outcome arrives as an event."""

    def get_order(self, vt_orderid: str) -> OrderUpdate | None:
        """The gateway's view of an order, None when it does not know it."""

    def forget(self, vt_orderids: Iterable[str], vt_tradeids: Iterable[str] = ()) -> None:
        """Let the gateway side drop finished orders and trades RedFire has recorded."""
