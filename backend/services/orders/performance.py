"""Performance of a user's paper account: PnL by symbol or strategy, and a summary.

Both replay the user's fills in booking order through the same arithmetic the books use
(positions.py), so they agree with GET /positions and GET /account to the last place. A
strategy's fills are booked on a position of their own: two strategies trading one contract
each have their realized and unrealized PnL, and their sum equals the contract's total PnL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models.enums import OrderSide
from backend.models.order import Order, Trade
from backend.services.orders.fills import AccountDefaults
from backend.services.orders.ports import MarketAccess
from backend.services.orders.positions import ZERO, PositionState, apply_fill, unrealized_pnl
from backend.shared.utils.currency import to_money_scale


@dataclass(frozen=True, slots=True)
class Fill:
    """A booked fill, with the strategy whose order it filled (None: placed by hand)."""

    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    commission: Decimal
    trade_time: datetime
    strategy_id: int | None


async def load_fills(session: AsyncSession, user_id: int) -> list[Fill]:
    """The user's fills in the order they were booked."""
    statement = (
        select(
            Trade.symbol,
            Trade.side,
            Trade.quantity,
            Trade.price,
            Trade.commission,
            Trade.trade_time,
            Order.strategy_id,
        )
        .join(Order, Order.id == Trade.order_id)
        .where(Trade.user_id == user_id)
        .order_by(Trade.id)
    )
    return [Fill(*row) for row in (await session.execute(statement)).all()]


@dataclass(slots=True)
class Book:
    """One position replayed: its state, commissions and fill count."""

    state: PositionState = field(default_factory=PositionState)
    commission: Decimal = ZERO
    trade_count: int = 0


@dataclass(slots=True)
class RoundTrips:
    """Net PnL (realized less commissions) of each closed round trip, in closing order."""

    closed: list[Decimal] = field(default_factory=list)
    open: dict[str, Decimal] = field(default_factory=dict)  # per symbol, the trip under way


@dataclass(slots=True)
class Curve:
    """The balance after each fill, reduced to its highest point and largest fall."""

    balance: Decimal
    peak: Decimal
    max_drawdown: Decimal = ZERO
    max_drawdown_pct: Decimal | None = None

    def move(self, change: Decimal) -> None:
        self.balance += change
        self.peak = max(self.peak, self.balance)
        fall = self.peak - self.balance
        if fall > self.max_drawdown:
            self.max_drawdown = fall
            self.max_drawdown_pct = fall / self.peak * 100 if self.peak > 0 else None


class Replay:
    """Fills replayed onto books keyed by symbol or by (strategy, symbol)."""

    def __init__(self, market: MarketAccess, accounts: AccountDefaults) -> None:
        self.market = market
        self.accounts = accounts

    def rate(self, symbol: str) -> Decimal:
        """The account's currency per unit of the contract's (0 without a rate: fills.py)."""
        return self.accounts.rate(symbol) or ZERO

    def size(self, symbol: str) -> Decimal:
        """Contract size x exchange rate: PnL comes out in the account's currency."""
        contract = self.market.get_contract(symbol)
        return (contract.size if contract is not None else Decimal(1)) * self.rate(symbol)

    def book(self, book: Book, fill: Fill) -> Decimal:
        """Apply `fill` to `book`; the realized PnL it booked, at the stored 8 places."""
        before = book.state
        after = apply_fill(before, fill.side, fill.quantity, fill.price, self.size(fill.symbol))
        realized = to_money_scale(after.realized_pnl - before.realized_pnl)
        book.state = PositionState(after.quantity, after.cost, before.realized_pnl + realized)
        book.commission += self.commission(fill)
        book.trade_count += 1
        return realized

    def commission(self, fill: Fill) -> Decimal:
        """The fill's commission in the account's currency, as booked."""
        return to_money_scale(fill.commission * self.rate(fill.symbol))

    def mark(self, symbol: str, state: PositionState) -> Decimal:
        """Unrealized PnL at the last price (0 before the first tick)."""
        tick = self.market.get_tick(symbol)
        last = tick.last_price if tick is not None and tick.last_price > 0 else None
        return to_money_scale(unrealized_pnl(state, last, self.size(symbol)))

    def by_key(
        self, fills: Sequence[Fill], *, per_strategy: bool
    ) -> dict[tuple[int | None, str], Book]:
        """Books per symbol (strategy None) or per (strategy, symbol)."""
        books: dict[tuple[int | None, str], Book] = {}
        for fill in fills:
            key = (fill.strategy_id if per_strategy else None, fill.symbol)
            self.book(books.setdefault(key, Book()), fill)
        return books

    def round_trips_and_curve(
        self, fills: Sequence[Fill], initial_balance: Decimal
    ) -> tuple[RoundTrips, Curve]:
        """Closed round trips per symbol and the balance curve, over the account's books."""
        books: dict[str, Book] = {}
        trips = RoundTrips()
        curve = Curve(initial_balance, initial_balance)
        for fill in fills:
            book = books.setdefault(fill.symbol, Book())
            was = book.state.quantity
            realized = self.book(book, fill)
            net = realized - self.commission(fill)
            curve.move(net)
            trips.open[fill.symbol] = trips.open.get(fill.symbol, ZERO) + net
            now = book.state.quantity
            if was != 0 and (now == 0 or (now > 0) != (was > 0)):
                trips.closed.append(trips.open.pop(fill.symbol))
                if now != 0:  # through zero: the rest opens the next trip
                    trips.open[fill.symbol] = ZERO
        return trips, curve
