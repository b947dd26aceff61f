"""Conversions between vnpy objects (floats, vnpy enums) and RedFire types (Decimal, UTC)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType

from vnpy.trader.constant import Direction, Exchange
from vnpy.trader.constant import OrderType as VnpyOrderType
from vnpy.trader.object import ContractData, OrderData, TickData, TradeData

from backend.domain.market import DEPTH_FIELDS, ContractInfo, OrderUpdate, TickSnapshot, TradeFill
from backend.models.enums import OrderSide, OrderType
from backend.services.vnpy.status_map import to_order_status

ZERO = Decimal(0)
# Prices sit on a tick grid and repeat: caching their conversion makes a tick ~3x cheaper.
_DECIMALS: dict[float, Decimal] = {}
_DECIMALS_LIMIT = 65_536

SIDE_TO_DIRECTION: Mapping[OrderSide, Direction] = MappingProxyType(
    {OrderSide.BUY: Direction.LONG, OrderSide.SELL: Direction.SHORT}
)
DIRECTION_TO_SIDE: Mapping[Direction, OrderSide] = MappingProxyType(
    {Direction.LONG: OrderSide.BUY, Direction.SHORT: OrderSide.SELL}
)
# FAK/FOK are limit orders with a time-in-force; RFQ and ETF have no RedFire equivalent.
VNPY_TO_ORDER_TYPE: Mapping[VnpyOrderType, OrderType] = MappingProxyType(
    {
        VnpyOrderType.MARKET: OrderType.MARKET,
        VnpyOrderType.LIMIT: OrderType.LIMIT,
        VnpyOrderType.STOP: OrderType.STOP,
        VnpyOrderType.FAK: OrderType.LIMIT,
        VnpyOrderType.FOK: OrderType.LIMIT,
    }
)


def to_decimal(value: float) -> Decimal:
    """A vnpy float as the Decimal it was meant to be; NaN/inf (vnpy's 'none') become 0."""
    cached = _DECIMALS.get(value)
    if cached is not None:
        return cached
    if not math.isfinite(value):
        return ZERO
    # repr() is the shortest text that round-trips, so 3500.2 stays "3500.2"; whole numbers
    # lose vnpy's ".0" so a size of 300 reads "300", not "300.0".
    text = repr(value)
    result = Decimal(text[:-2] if text.endswith(".0") else text)
    if len(_DECIMALS) >= _DECIMALS_LIMIT:
        _DECIMALS.clear()
    _DECIMALS[value] = result
    return result


def to_float(value: Decimal) -> float:
    """A Decimal as a vnpy float; refuses values a float cannot carry exactly enough."""
    result = float(value)
    if not math.isfinite(result) or Decimal(str(result)) != value:
        raise ValueError(f"{value} cannot be passed to vnpy without losing precision")
    return result


def to_utc(value: datetime | None) -> datetime | None:
    """An aware UTC datetime; vnpy's rare naive datetimes are taken as UTC."""
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def split_vt_symbol(vt_symbol: str) -> tuple[str, Exchange]:
    """`IF2412.CFFEX` -> ("IF2412", Exchange.CFFEX); ValueError when malformed or unknown."""
    symbol, sep, exchange = vt_symbol.rpartition(".")
    if not sep or not symbol:
        raise ValueError(f"{vt_symbol!r} is not a vt_symbol (SYMBOL.EXCHANGE)")
    try:
        return symbol, Exchange(exchange)
    except ValueError:
        raise ValueError(f"{vt_symbol!r}: vnpy knows no exchange {exchange!r}") from None


def to_contract_info(contract: ContractData) -> ContractInfo:
    """A vnpy contract as a ContractInfo."""
    return ContractInfo(
        symbol=contract.vt_symbol,
        code=contract.symbol,
        exchange=contract.exchange.value,
        name=contract.name,
        gateway=contract.gateway_name,
        price_tick=to_decimal(contract.pricetick),
        size=to_decimal(contract.size),
        min_volume=to_decimal(contract.min_volume),
    )


def to_tick_snapshot(tick: TickData) -> TickSnapshot:
    """A vnpy tick as a TickSnapshot.

    Runs for every tick on vnpy's event thread, hence written out: the frozen dataclass's
    __init__ goes through object.__setattr__ once per field, which was most of the cost;
    writing the slots through their descriptors makes the very same frozen TickSnapshot in
    about a third of the time, and cached prices skip to_decimal's call.
    """
    moment = tick.datetime
    if moment.tzinfo is not UTC:  # vnpy's rare naive datetimes are taken as UTC
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    get = _DECIMALS.get
    snapshot: TickSnapshot = _new_object(TickSnapshot)
    _set_symbol(snapshot, tick.vt_symbol)
    _set_gateway(snapshot, tick.gateway_name)
    value = tick.last_price
    _set_last(snapshot, get(value) or to_decimal(value))  # 0 is falsy: cached by to_decimal
    value = tick.bid_price_1
    _set_bid(snapshot, get(value) or to_decimal(value))
    value = tick.ask_price_1
    _set_ask(snapshot, get(value) or to_decimal(value))
    value = tick.bid_volume_1
    _set_bid_volume(snapshot, get(value) or to_decimal(value))
    value = tick.ask_volume_1
    _set_ask_volume(snapshot, get(value) or to_decimal(value))
    value = tick.volume
    _set_volume(snapshot, get(value) or to_decimal(value))
    _set_datetime(snapshot, moment)
    value = tick.turnover
    _set_turnover(snapshot, get(value) or to_decimal(value))
    value = tick.open_interest
    _set_open_interest(snapshot, get(value) or to_decimal(value))
    if tick.bid_price_2 or tick.ask_price_2:  # a tick showing depth: levels 2 to 5
        fields: dict[str, float] = tick.__dict__
        _set_depth(
            snapshot,
            tuple(
                get(level) or to_decimal(level) for level in map(fields.__getitem__, DEPTH_FIELDS)
            ),
        )
    else:
        _set_depth(snapshot, ())
    return snapshot


_new_object = object.__new__


def _slot_setter(field: str) -> Callable[[TickSnapshot, object], None]:
    setter: Callable[[TickSnapshot, object], None] = getattr(TickSnapshot, field).__set__
    return setter


_set_symbol = _slot_setter("symbol")
_set_gateway = _slot_setter("gateway")
_set_last = _slot_setter("last_price")
_set_bid = _slot_setter("bid_price_1")
_set_ask = _slot_setter("ask_price_1")
_set_bid_volume = _slot_setter("bid_volume_1")
_set_ask_volume = _slot_setter("ask_volume_1")
_set_volume = _slot_setter("volume")
_set_datetime = _slot_setter("datetime")
_set_turnover = _slot_setter("turnover")
_set_open_interest = _slot_setter("open_interest")
_set_depth = _slot_setter("depth")
if len(TickSnapshot.__slots__) != 12:  # a field to_tick_snapshot does not set would be missing
    raise RuntimeError("TickSnapshot's fields changed: update to_tick_snapshot")


def _side(direction: Direction | None, what: str) -> OrderSide:
    side = DIRECTION_TO_SIDE.get(direction) if direction is not None else None
    if side is None:
        raise ValueError(f"{what} has direction {direction}, which RedFire cannot represent")
    return side


def to_order_update(order: OrderData, reject_reason: str | None = None) -> OrderUpdate:
    """A vnpy order as an OrderUpdate."""
    price = to_decimal(order.price)
    return OrderUpdate(
        vt_orderid=order.vt_orderid,
        symbol=order.vt_symbol,
        gateway=order.gateway_name,
        side=_side(order.direction, f"order {order.vt_orderid}"),
        order_type=VNPY_TO_ORDER_TYPE.get(order.type),
        status=to_order_status(order.status),
        quantity=to_decimal(order.volume),
        traded=to_decimal(order.traded),
        price=price if price else None,
        reference=order.reference,
        reject_reason=reject_reason,
        update_time=to_utc(order.datetime),
    )


def to_trade_fill(trade: TradeData, commission: Decimal) -> TradeFill:
    """A vnpy trade as a TradeFill; vnpy has no commission field, so the caller supplies it."""
    return TradeFill(
        vt_tradeid=trade.vt_tradeid,
        vt_orderid=trade.vt_orderid,
        symbol=trade.vt_symbol,
        gateway=trade.gateway_name,
        side=_side(trade.direction, f"trade {trade.vt_tradeid}"),
        price=to_decimal(trade.price),
        quantity=to_decimal(trade.volume),
        commission=commission,
        trade_time=to_utc(trade.datetime) or datetime.now(UTC),
    )
