"""The PAPER gateway's market model: contracts, quotes with depth, a seeded random walk, fill rules.

A quote shows up to five price levels a side (vnpy's bid/ask_price_1..5 and volume_1..5),
each with a volume. An order takes the opposite side's levels best first, one trade per level
at that level's price, never more than a level shows (paper_depth.Depth: what this replica's
orders took of a quote stays taken until the next quote):

- market: buy from the asks, sell to the bids, as deep as it needs; what the shown depth
  cannot fill is cancelled at once (vnpy/CTP FAK: partially filled, then cancelled).
- limit: a buy trades when ask <= limit, taking every ask level at or below its limit; a sell
  when bid >= limit, every bid level at or above it (each at the level's price, better than
  or equal to the limit). What does not fill rests and is checked again on every tick.
- FAK (IOC limit): takes what a limit would at once; the rest is cancelled, never rests.
- FOK: fills whole at once from the levels at or better than its limit, or is cancelled
  whole (nothing traded) when they do not hold its volume.
- stop-limit (a stop with a limit price; RedFire's extension, PaperGateway.send_stop_limit):
  triggers as a stop does, then is a limit at its limit price: takes what crosses, rests the
  rest.
- stop: a buy triggers when ask >= stop, a sell when bid <= stop, and then trades as a
  market order on the same tick (at the levels' prices, which may be worse than the stop:
  slippage; the rest cancelled). A stop already through the market when it arrives triggers
  at once.

A market order that meets an unquoted side (price 0) rests until a quote shows one.
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
# Orders that trade at or better than their price; FAK and FOK never rest.
LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.FAK, OrderType.FOK})
IMMEDIATE_TYPES = frozenset({OrderType.FAK, OrderType.FOK})
DEPTH_LEVELS = 5  # vnpy's TickData shows five levels a side
# A step's standard deviation as a share of the price, unless a contract sets its own.
DEFAULT_VOLATILITY = Decimal("0.0002")


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
    volatility: Decimal = DEFAULT_VOLATILITY
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
            volatility=as_decimal(item.get("volatility") or DEFAULT_VOLATILITY),
        )


# One price level of a side: (price, volume).
Level = tuple[Decimal, Decimal]


class Quote(NamedTuple):
    """One contract's book (a NamedTuple: built on every tick, so kept cheap).

    bid/ask and their volumes are level 1; `bid_depth` and `ask_depth` the levels behind it
    (2 to 5), best first, empty when the quote shows level 1 only.
    """

    last: Decimal
    bid: Decimal
    ask: Decimal
    bid_volume: Decimal
    ask_volume: Decimal
    volume: Decimal
    moment: datetime
    bid_depth: tuple[Level, ...] = ()
    ask_depth: tuple[Level, ...] = ()


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
    arrival: int = -1  # its place in the book's time priority, kept when it rests again
    limit_price: Decimal | None = None  # a stop-limit's, until it triggers (then a limit)

    @property
    def is_open(self) -> bool:
        """Still able to trade."""
        return self.status in (Status.SUBMITTING, Status.NOTTRADED, Status.PARTTRADED)


def fill_price(order: PaperOrder, quote: Quote) -> Decimal | None:
    """The touch at which `order` starts to trade against `quote`, or None when it does not."""
    buy = order.direction == Direction.LONG
    touch = quote.ask if buy else quote.bid
    if touch <= 0:
        return None  # no opposite side quoted
    if order.order_type == OrderType.MARKET:
        return touch
    if order.order_type in LIMIT_TYPES:
        crosses = touch <= order.price if buy else touch >= order.price
    else:  # STOP: triggers into a market order
        crosses = touch >= order.price if buy else touch <= order.price
    return touch if crosses else None


class RandomWalk:
    """A seeded random walk of one contract's price, on its tick grid, with five levels a side.

    Each step moves the price by a whole number of ticks drawn from a normal distribution
    whose deviation is the contract's volatility times its price, and never by zero: every
    listed contract moves on every step, whatever its price and tick.
    """

    def __init__(self, contract: PaperContract, seed: int) -> None:
        # Not for security: a reproducible simulation. A str seed hashes the same everywhere.
        self._rng = random.Random(f"{seed}:{contract.vt_symbol}")  # noqa: S311
        self._contract = contract
        self.price = contract.initial_price
        self.volume = ZERO

    def step(self, moment: datetime) -> Quote:
        """Move the price by at least one tick and return the new quote."""
        contract, rng = self._contract, self._rng
        tick = contract.price_tick
        # A float only to draw a whole number of ticks: prices stay Decimal.
        sigma = float(self.price * contract.volatility / tick)
        ticks = round(rng.gauss(0.0, sigma)) or rng.choice((-1, 1))
        moved = self.price + tick * ticks
        self.price = moved if moved >= tick else self.price - tick * ticks  # reflect at 0
        lot = contract.min_volume
        self.volume += lot * rng.randint(0, 20)
        bids = self._side(self.price, -tick, lot)
        asks = self._side(self.price + tick, tick, lot)
        return Quote(
            self.price,
            bids[0][0],
            asks[0][0],
            bids[0][1],
            asks[0][1],
            self.volume,
            moment,
            tuple(bids[1:]),
            tuple(asks[1:]),
        )

    def initial(self, moment: datetime) -> Quote:
        """The start-up quote: bid at the initial price, ask one tick above, 100 lots a level."""
        lot = self._contract.min_volume
        tick = self._contract.price_tick
        size = lot * 100  # the most a level of the walk shows
        return Quote(
            last=self.price,
            bid=self.price,
            ask=self.price + tick,
            bid_volume=size,
            ask_volume=size,
            volume=ZERO,
            moment=moment,
            bid_depth=tuple(
                (self.price - tick * i, size)
                for i in range(1, DEPTH_LEVELS)
                if self.price - tick * i > 0
            ),
            ask_depth=tuple((self.price + tick * (i + 1), size) for i in range(1, DEPTH_LEVELS)),
        )

    def _side(self, best: Decimal, step: Decimal, lot: Decimal) -> list[Level]:
        randint = self._rng.randint
        levels = []
        price = best
        for _ in range(DEPTH_LEVELS):
            if price <= 0:
                break
            levels.append((price, lot * randint(1, 100)))
            price += step
        return levels


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
        last, bid, ask, bid_volume, ask_volume, volume, moment, bid_depth, ask_depth = quote
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
        if bid_depth:
            for (price, size), (price_field, volume_field) in zip(
                bid_depth, _BID_FIELDS, strict=False
            ):
                fields[price_field] = float(price)
                fields[volume_field] = float(size)
        if ask_depth:
            for (price, size), (price_field, volume_field) in zip(
                ask_depth, _ASK_FIELDS, strict=False
            ):
                fields[price_field] = float(price)
                fields[volume_field] = float(size)
        tick: TickData = _new_object(TickData)
        tick.__dict__ = fields
        return tick


_new_object = object.__new__
# TickData's fields of levels 2 to 5: (price, volume) per level.
_BID_FIELDS = tuple((f"bid_price_{i}", f"bid_volume_{i}") for i in range(2, DEPTH_LEVELS + 1))
_ASK_FIELDS = tuple((f"ask_price_{i}", f"ask_volume_{i}") for i in range(2, DEPTH_LEVELS + 1))
