"""A RedFire strategy: BaseStrategy with a pydantic parameter model (see README, "Bring your own
strategy"). Put a file like this in a directory named by STRATEGY__PATHS."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from backend.domain.market import TickSnapshot
from backend.services.strategy.base import ZERO, BaseStrategy


class PriceChannelParameters(BaseModel):
    """Parameters of PriceChannelStrategy (unknown fields are refused with a 422)."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(default=30, ge=2, le=10_000, description="Ticks in the channel")
    fixed_size: Decimal = Field(default=Decimal(1), gt=0, description="Quantity of each order")


class PriceChannelStrategy(BaseStrategy):
    """Long above the highest of the last `window` prices, short below the lowest."""

    parameters_model: ClassVar[type[BaseModel]] = PriceChannelParameters
    config: PriceChannelParameters

    def __init__(self, strategy_id: int, config: BaseModel, **context: Any) -> None:
        super().__init__(strategy_id, config, **context)
        self.prices: deque[Decimal] = deque(maxlen=self.config.window)

    async def on_tick(self, tick: TickSnapshot) -> None:
        """Reverse to the side the price broke out to, by market orders."""
        price, prices = tick.last_price, self.prices
        if len(prices) == prices.maxlen and self.running:
            size = self.config.fixed_size
            if price > max(prices) and self.position <= ZERO:
                await self.buy(size - self.position)
            elif price < min(prices) and self.position >= ZERO:
                await self.sell(size + self.position)
        prices.append(price)
