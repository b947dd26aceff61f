"""Buying power of a paper account: what positions and open orders hold, and what is left.

available = balance + unrealized PnL - margin - frozen, where
- margin is what the positions hold: |quantity| x last price x contract size x margin ratio;
- frozen is what the open orders hold: per contract and side, the remaining quantity that
  would open or add to a position (beyond what closes the opposite position) at the side's
  average hold price, x contract size x margin ratio.

An order is accepted when what it adds to `frozen` fits in `available`; an order that only
closes a position adds nothing and needs no buying power. The account view and the booking
compute with this one module, so what GET /account shows is what the next order is held to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from backend.models.enums import OrderSide
from backend.services.orders.fills import AccountDefaults
from backend.services.orders.ports import MarketAccess
from backend.services.orders.positions import ZERO, PositionState, unrealized_pnl
from backend.shared.utils.currency import to_money_scale

SIDES = (OrderSide.BUY, OrderSide.SELL)


@dataclass(frozen=True, slots=True)
class Exposure:
    """Open orders on one side of one contract: remaining quantity, and x hold price."""

    quantity: Decimal = ZERO
    notional: Decimal = ZERO  # without the contract size

    def add(self, quantity: Decimal, price: Decimal) -> Exposure:
        """With one more order of `quantity` held at `price`."""
        return Exposure(self.quantity + quantity, self.notional + quantity * price)


@dataclass(slots=True)
class Holdings:
    """One user's paper account as buying power sees it."""

    balance: Decimal  # initial + realized - commission
    positions: dict[str, PositionState] = field(default_factory=dict)
    exposure: dict[tuple[str, OrderSide], Exposure] = field(default_factory=dict)
    # `available` while a batch is booked: computed for its first order, then less what each
    # accepted order holds (only the exposure changes meanwhile).
    available: Decimal | None = None
    # What each contract's open orders hold (`BuyingPower.frozen`) after the batch's last
    # order in it: the next order's `before`, not computed again. Changed by `hold` only.
    frozen: dict[str, Decimal] = field(default_factory=dict)

    def symbols(self) -> set[str]:
        """Every contract with a position or open orders."""
        return set(self.positions) | {symbol for symbol, _ in self.exposure}


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """The amounts GET /account shows, each at the 8 places of a stored amount."""

    unrealized_pnl: Decimal
    margin: Decimal
    frozen: Decimal
    available: Decimal


class BuyingPower:
    """The arithmetic, with the market's last prices and contract sizes."""

    def __init__(self, market: MarketAccess, accounts: AccountDefaults) -> None:
        self.market = market
        self.accounts = accounts
        self.margin_ratio = accounts.margin_ratio
        self.initial_balance = accounts.initial_balance  # of an account without fills yet

    def _size(self, symbol: str) -> Decimal:
        """Contract size x the rate of its currency: every amount here is the account's."""
        contract = self.market.get_contract(symbol)
        rate = self.accounts.rate(symbol) or ZERO  # no rate: no order is accepted
        return (contract.size if contract is not None else Decimal(1)) * rate

    def _last(self, symbol: str) -> Decimal | None:
        tick = self.market.get_tick(symbol)
        return tick.last_price if tick is not None and tick.last_price > 0 else None

    def unrealized(self, symbol: str, position: PositionState) -> Decimal:
        """A position's PnL marked to the last price (0 before the first tick)."""
        return to_money_scale(unrealized_pnl(position, self._last(symbol), self._size(symbol)))

    def margin(self, symbol: str, position: PositionState) -> Decimal:
        """What a position holds, at the last price (its average price before a tick)."""
        price = self._last(symbol) or abs(position.avg_price)
        held = abs(position.quantity) * price * self._size(symbol) * self.margin_ratio
        return to_money_scale(held)

    def frozen(self, holdings: Holdings, symbol: str) -> Decimal:
        """What the open orders in `symbol` hold: their part that opens or adds to a position."""
        held = ZERO
        for side in SIDES:
            exposure = holdings.exposure.get((symbol, side))
            if exposure is None or exposure.quantity <= 0:
                continue
            closes = _closes(holdings, symbol, side)
            if closes <= 0:
                held += exposure.notional
            elif exposure.quantity > closes:
                opens = exposure.quantity - closes
                held += exposure.notional * opens / exposure.quantity
        return to_money_scale(held * self._size(symbol) * self.margin_ratio)

    def figures(self, holdings: Holdings) -> AccountFigures:
        """Unrealized PnL, margin, frozen and available of the whole account."""
        unrealized = margin = frozen = ZERO
        for symbol in holdings.symbols():
            position = holdings.positions.get(symbol)
            if position is not None:
                unrealized += self.unrealized(symbol, position)
                margin += self.margin(symbol, position)
            frozen += self.frozen(holdings, symbol)
        available = holdings.balance + unrealized - margin - frozen
        return AccountFigures(
            *(to_money_scale(amount) for amount in (unrealized, margin, frozen, available))
        )

    def take(
        self,
        holdings: Holdings,
        symbol: str,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal | None,
    ) -> bool:
        """Hold buying power for a new order if it fits; False (and nothing held) if not."""
        return self.hold(holdings, symbol, side, quantity, price) is None

    def hold(
        self,
        holdings: Holdings,
        symbol: str,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal | None,
    ) -> Shortfall | None:
        """Hold buying power for a new order if it fits (None); what it lacks if not.

        `price` is what the order holds buying power at; None when it cannot be valued (a
        market order before the first trade): then only an order that merely closes passes,
        and the shortfall is in lots (what closes against what was asked, open orders of
        that side included).
        """
        key = (symbol, side)
        before = holdings.exposure.get(key, Exposure())
        if price is None:
            closes = _closes(holdings, symbol, side)
            if before.quantity + quantity > closes:
                return Shortfall(closes, before.quantity + quantity)
            holdings.exposure[key] = before.add(quantity, ZERO)
            # It only closes, so it holds nothing and leaves what the side holds at 0; the
            # carried amount is dropped all the same, not trusted across this other path.
            holdings.frozen.pop(symbol, None)
            return None
        if holdings.available is None:
            holdings.available = self.figures(holdings).available
        frozen_before = holdings.frozen.get(symbol)
        if frozen_before is None:
            frozen_before = self.frozen(holdings, symbol)
        holdings.exposure[key] = before.add(quantity, price)
        frozen_after = self.frozen(holdings, symbol)
        added = frozen_after - frozen_before
        if added > 0 and holdings.available - added < 0:
            holdings.exposure[key] = before
            holdings.frozen[symbol] = frozen_before
            return Shortfall(holdings.available, added)
        holdings.available -= added
        holdings.frozen[symbol] = frozen_after
        return None


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Why an order does not fit: what was available, and what it needed."""

    available: Decimal
    required: Decimal


def _closes(holdings: Holdings, symbol: str, side: OrderSide) -> Decimal:
    """How much of `side` closes the position: a buy closes a short, a sell a long."""
    position = holdings.positions.get(symbol, PositionState()).quantity
    return max(ZERO, -position) if side is OrderSide.BUY else max(ZERO, position)
