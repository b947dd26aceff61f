"""The PAPER gateway's market model: contracts, quotes, a seeded random walk, fill rules.

Fill rules (vnpy's backtesting convention: a crossing order trades at the better of its
limit and the touch; the simulated book has unlimited size at the touch, so fills are whole):

- market: buy at the ask, sell at the bid.
- limit: a buy trades when ask <= limit, at the ask; a sell when bid >= limit, at the bid.
  A limit that does not cross rests and is checked again on every tick of its contract.
- stop: a buy triggers when ask >= stop, a sell when bid <= stop, and then trades as a
  market order on the same tick (at the touch, which may be worse than the stop: slippage).
  A stop already through the market when it arrives triggers at once.
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from vnpy.trader.constant import Direction, Exchange, OrderType, Product, Status
from vnpy.trader.object import ContractData, TickData

from backend.services.vnpy.conversions import to_decimal

ZERO = Decimal(0)


def as_decimal(value: Any) -> Decimal:
    """A setting or vnpy value (Decimal, str, int or float) as a Decimal; floats via repr."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return to_decimal(value)
    return Decimal(value)


@dataclass(frozen=True, slots=True)
class PaperContract:
    """A contract the paper market lists."""

    symbol: str
    exchange: Exchange
    name: str
    price_tick: Decimal
    size: Decimal
    min_volume: Decimal
    initial_price: Decimal
    vt_symbol: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vt_symbol", f"{self.symbol}.{self.exchange.value}")

    @classmethod
    def from_setting(cls, item: dict[str, Any]) -> PaperContract:
        """Build from one entry of the gateway setting's `contracts` list."""
        symbol = str(item["symbol"])
        try:
            exchange = Exchange(str(item["exchange"]))
        except ValueError:
            raise ValueError(
                f"PAPER contract {symbol}: vnpy knows no exchange {item['exchange']!r}"
            ) from None
        return cls(
            symbol=symbol,
            exchange=exchange,
            name=str(item.get("name") or symbol),
            price_tick=as_decimal(item["price_tick"]),
            size=as_decimal(item.get("size", 1)),
            min_volume=as_decimal(item.get("min_volume", 1)),
            initial_price=as_decimal(item["initial_price"]),
        )


class Quote(NamedTuple):
    """Top of book of one contract (a NamedTuple: built on every tick, so kept cheap)."""

    last: Decimal
    bid: Decimal
    ask: Decimal
    bid_volume: Decimal
    ask_volume: Decimal
    volume: Decimal
    moment: datetime


@dataclass(slots=True)
class PaperOrder:
    """An order in the paper market (mutable; guarded by the gateway's lock)."""

    orderid: str
    contract: PaperContract
    direction: Direction
    order_type: OrderType
    price: Decimal
    volume: Decimal
    reference: str
    created: datetime
    traded: Decimal = ZERO
    status: Status = Status.NOTTRADED

    @property
    def is_open(self) -> bool:
        """Still able to trade."""
        return self.status in (Status.SUBMITTING, Status.NOTTRADED, Status.PARTTRADED)


def fill_price(order: PaperOrder, quote: Quote) -> Decimal | None:
    """The price `order` trades at against `quote`, or None when it does not trade."""
    buy = order.direction == Direction.LONG
    touch = quote.ask if buy else quote.bid
    if touch <= 0:
        return None  # no opposite side quoted
    if order.order_type == OrderType.MARKET:
        return touch
    if order.order_type == OrderType.LIMIT:
        crosses = touch <= order.price if buy else touch >= order.price
    else:  # STOP: triggers into a market order
        crosses = touch >= order.price if buy else touch <= order.price
    return touch if crosses else None


class RandomWalk:
    """A seeded random walk of one contract's price, on its tick grid."""

    def __init__(self, contract: PaperContract, seed: int) -> None:
        # Not for security: a reproducible simulation. A str seed hashes the same everywhere.
        self._rng = random.Random(f"{seed}:{contract.vt_symbol}")  # noqa: S311
        self._contract = contract
        self.price = contract.initial_price
        self.volume = ZERO

    def step(self, moment: datetime) -> Quote:
        """Move the price by -1, 0 or +1 tick and return the new quote."""
        tick = self._contract.price_tick
        self.price = max(tick, self.price + tick * self._rng.choice((-1, 0, 1)))
        lot = self._contract.min_volume
        self.volume += lot * self._rng.randint(0, 20)
        return Quote(
            last=self.price,
            bid=self.price,
            ask=self.price + tick,
            bid_volume=lot * self._rng.randint(1, 100),
            ask_volume=lot * self._rng.randint(1, 100),
            volume=self.volume,
            moment=moment,
        )

    def initial(self, moment: datetime) -> Quote:
        """The start-up quote: bid at the initial price, ask one tick above."""
        lot = self._contract.min_volume
        tick = self._contract.price_tick
        return Quote(
            last=self.price,
            bid=self.price,
            ask=self.price + tick,
            bid_volume=lot * 10,
            ask_volume=lot * 10,
            volume=ZERO,
            moment=moment,
        )


def session_id() -> str:
    """A short id unique per gateway start: hex tenths of a second plus random bits.

    Replicas each run a PAPER gateway (a book of their own) and share one orders table
    (vt_orderid is unique): two started in the same tenth of a second must still never issue
    the same ids.
    """
    return f"{int(time.time() * 10):x}{secrets.token_hex(4)}"


def contract_data(contract: PaperContract, gateway_name: str) -> ContractData:
    """The vnpy ContractData of a paper contract."""
    return ContractData(
        gateway_name=gateway_name,
        symbol=contract.symbol,
        exchange=contract.exchange,
        name=contract.name,
        product=Product.FUTURES,
        size=float(contract.size),
        pricetick=float(contract.price_tick),
        min_volume=float(contract.min_volume),
        stop_supported=True,
        net_position=True,
    )


class TickBuilder:
    """Builds one contract's TickData per quote (the vnpy TickData of a quote), ~4x cheaper.

    TickData's generated __init__ sets its ~45 fields one by one; here a template's field
    dict, made once by that same __init__, is copied and the quote's fields written over it,
    so the result is an ordinary, equal TickData. float(Decimal) goes through text, so a
    value that is the very object of the previous quote (the volume, default sizes, a bid
    equal to the last price) reuses its float.
    """

    __slots__ = ("_fields", "_floats")

    def __init__(self, contract: PaperContract, gateway_name: str) -> None:
        template = TickData(
            gateway_name=gateway_name,
            symbol=contract.symbol,
            exchange=contract.exchange,
            datetime=datetime.min,
            name=contract.name,
        )
        self._fields = dict(template.__dict__)
        self._floats: tuple[Decimal, float, Decimal, float, Decimal, float] = (
            ZERO,
            0.0,
            ZERO,
            0.0,
            ZERO,
            0.0,
        )

    def __call__(self, quote: Quote) -> TickData:
        """The TickData of `quote` (a new object each time: vnpy keeps references)."""
        last, bid, ask, bid_volume, ask_volume, volume, moment = quote
        last_price = float(last)
        vol_d, vol_f, bv_d, bv_f, av_d, av_f = self._floats
        if volume is not vol_d:
            vol_d, vol_f = volume, float(volume)
        if bid_volume is not bv_d:
            bv_d, bv_f = bid_volume, float(bid_volume)
        if ask_volume is not av_d:
            av_d, av_f = ask_volume, float(ask_volume)
        self._floats = (vol_d, vol_f, bv_d, bv_f, av_d, av_f)
        fields = self._fields.copy()
        fields["datetime"] = moment
        fields["volume"] = vol_f
        fields["last_price"] = last_price
        fields["bid_price_1"] = last_price if bid is last else float(bid)
        fields["ask_price_1"] = float(ask)
        fields["bid_volume_1"] = bv_f
        fields["ask_volume_1"] = av_f
        tick: TickData = _new_object(TickData)
        tick.__dict__ = fields
        return tick


_new_object = object.__new__
