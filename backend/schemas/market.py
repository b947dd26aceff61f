"""Market data shapes: listed contracts, ticks, and ticks to inject into the paper market."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from backend.schemas.common import Amount, DecimalText, IsoAwareDateTime
from backend.schemas.orders import Symbol

MAX_INJECTED_TICKS = 1000


class SymbolRead(BaseModel):
    """A tradable contract; `symbol` is the vnpy vt_symbol."""

    model_config = ConfigDict(from_attributes=True)

    symbol: str
    name: str
    exchange: str
    gateway: str
    price_tick: DecimalText
    size: DecimalText
    min_volume: DecimalText


class TickRead(BaseModel):
    """The latest book of a contract: level 1, and levels 2 to 5 (0 where not shown)."""

    model_config = ConfigDict(from_attributes=True)

    symbol: str
    last_price: DecimalText
    bid_price_1: DecimalText
    ask_price_1: DecimalText
    bid_volume_1: DecimalText
    ask_volume_1: DecimalText
    volume: DecimalText
    datetime: datetime
    # vnpy's depth fields; defaults, so ticks saved before they existed still read.
    bid_price_2: DecimalText = Decimal(0)
    bid_volume_2: DecimalText = Decimal(0)
    ask_price_2: DecimalText = Decimal(0)
    ask_volume_2: DecimalText = Decimal(0)
    bid_price_3: DecimalText = Decimal(0)
    bid_volume_3: DecimalText = Decimal(0)
    ask_price_3: DecimalText = Decimal(0)
    ask_volume_3: DecimalText = Decimal(0)
    bid_price_4: DecimalText = Decimal(0)
    bid_volume_4: DecimalText = Decimal(0)
    ask_price_4: DecimalText = Decimal(0)
    ask_volume_4: DecimalText = Decimal(0)
    bid_price_5: DecimalText = Decimal(0)
    bid_volume_5: DecimalText = Decimal(0)
    ask_price_5: DecimalText = Decimal(0)
    ask_volume_5: DecimalText = Decimal(0)


Volume = Annotated[Amount, Field(ge=0)]


class TickInject(BaseModel):
    """A tick for the PAPER market: bid defaults to last, ask to bid + one price tick."""

    model_config = ConfigDict(extra="forbid")

    symbol: Symbol
    last_price: Amount
    bid_price_1: Amount | None = None
    ask_price_1: Amount | None = None
    bid_volume_1: Volume = Decimal(10)
    ask_volume_1: Volume = Decimal(10)
    volume: Volume | None = Field(default=None, description="cumulative; default: unchanged")
    datetime: IsoAwareDateTime | None = Field(default=None, description="default: now")
    # Levels 2 to 5 (default: not shown; an order takes no more than the levels shown).
    bid_price_2: Amount | None = None
    bid_volume_2: Volume = Decimal(0)
    ask_price_2: Amount | None = None
    ask_volume_2: Volume = Decimal(0)
    bid_price_3: Amount | None = None
    bid_volume_3: Volume = Decimal(0)
    ask_price_3: Amount | None = None
    ask_volume_3: Volume = Decimal(0)
    bid_price_4: Amount | None = None
    bid_volume_4: Volume = Decimal(0)
    ask_price_4: Amount | None = None
    ask_volume_4: Volume = Decimal(0)
    bid_price_5: Amount | None = None
    bid_volume_5: Volume = Decimal(0)
    ask_price_5: Amount | None = None
    ask_volume_5: Volume = Decimal(0)


TickInjectBody = TickInject | Annotated[list[TickInject], Field(min_length=1, max_length=1000)]
