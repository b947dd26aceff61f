"""The market's vocabulary: contracts, ticks, order tickets, and what gateways report back.

Frozen, Decimal-valued, timezone-aware values; vnpy's objects are translated into them at the
edge (services/vnpy/conversions.py), so nothing outside services/vnpy depends on vnpy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, Protocol

from backend.models.enums import OrderSide, OrderStatus, OrderType, TimeInForce


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """A tradable contract; `symbol` is the vnpy vt_symbol (`IF2412.CFFEX`)."""

    symbol: str
    code: str
    exchange: str
    name: str
    gateway: str
    price_tick: Decimal
    size: Decimal
    min_volume: Decimal


# A contract by vt_symbol, or None when not listed (RedFireVnPyEngine.get_contract).
ContractLookup = Callable[[str], ContractInfo | None]


@dataclass(frozen=True, slots=True)
class TickSnapshot:
    """The latest top of book of a contract; `symbol` is the vt_symbol."""

    symbol: str
    gateway: str
    last_price: Decimal
    bid_price_1: Decimal
    ask_price_1: Decimal
    bid_volume_1: Decimal
    ask_volume_1: Decimal
    volume: Decimal
    datetime: datetime
    # Cumulative, as the gateway reports them (PAPER: 0); bars are recorded from their deltas.
    turnover: Decimal = Decimal(0)
    open_interest: Decimal = Decimal(0)
    # Levels 2 to 5 in DEPTH_FIELDS' order, or () when the tick shows level 1 only (read
    # them as the bid_price_2 ... ask_volume_5 properties, 0 where not shown).
    depth: tuple[Decimal, ...] = ()


# vnpy TickData's fields of the levels behind the first, in TickSnapshot.depth's order.
DEPTH_FIELDS: tuple[str, ...] = tuple(
    f"{side}_{what}_{level}"
    for level in range(2, 6)
    for side in ("bid", "ask")
    for what in ("price", "volume")
)


def _depth_property(index: int, name: str) -> property:
    def read(self: TickSnapshot) -> Decimal:
        depth = self.depth
        return depth[index] if depth else _ZERO

    read.__name__ = name
    read.__doc__ = f"vnpy's {name}: 0 when the tick does not show that level."
    return property(read)


_ZERO = Decimal(0)
for _index, _name in enumerate(DEPTH_FIELDS):
    setattr(TickSnapshot, _name, _depth_property(_index, _name))


class OrderTicket(NamedTuple):
    """An order as sent to a market: which contract, which way, how much, at what price.

    `price` is None for a market order; `reference` is RedFire's client order id, which the
    gateway's reports of the order carry back (empty when nobody needs it back). Immutable
    like the frozen dataclasses here, but a named tuple: built at a third of their cost, and
    a backtest's strategy builds one per order.
    """

    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    reference: str = ""
    time_in_force: TimeInForce = TimeInForce.GTC
    limit_price: Decimal | None = None  # a stop's: a stop-limit rests as a limit here


class OrderState(Protocol):
    """An order as a strategy hears of it: RedFire's order as last committed (the API's
    OrderRead), or a backtest's simulated order. Only the fields both carry."""

    @property
    def id(self) -> int: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> OrderSide: ...
    @property
    def order_type(self) -> OrderType: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def price(self) -> Decimal | None: ...
    @property
    def status(self) -> OrderStatus: ...
    @property
    def filled_quantity(self) -> Decimal: ...
    @property
    def reject_reason(self) -> str | None: ...
    @property
    def updated_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order's state as its gateway reports it."""

    vt_orderid: str
    symbol: str
    gateway: str
    side: OrderSide
    order_type: OrderType | None
    status: OrderStatus
    quantity: Decimal
    traded: Decimal
    price: Decimal | None
    reference: str
    reject_reason: str | None
    update_time: datetime | None


@dataclass(frozen=True, slots=True)
class TradeFill:
    """One execution of an order, with the commission it cost."""

    vt_tradeid: str
    vt_orderid: str
    symbol: str
    gateway: str
    side: OrderSide
    price: Decimal
    quantity: Decimal
    commission: Decimal
    trade_time: datetime
