"""MovingAverageStrategy: vnpy's DoubleMaStrategy on ticks, with exact O(1) averages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.domain.market import ContractInfo, TickSnapshot
from backend.models.enums import OrderType
from backend.schemas.common import DecimalInput
from backend.services.strategy.base import ZERO, BaseStrategy
from backend.services.strategy.indicators import DEATH_CROSS, GOLDEN_CROSS, SmaCrossover

# vnpy's ArrayManager holds 100 bars and DoubleMaStrategy signals only once it is full.
VNPY_ARRAY_SIZE = 100


class MovingAverageParameters(BaseModel):
    """Parameters of MovingAverageStrategy."""

    model_config = ConfigDict(extra="forbid")

    fast_window: int = Field(default=10, ge=1, le=10_000, description="Fast SMA length (ticks)")
    slow_window: int = Field(default=20, ge=2, le=10_000, description="Slow SMA length (ticks)")
    fixed_size: DecimalInput = Field(
        default=Decimal(1),
        gt=0,
        max_digits=24,
        decimal_places=8,
        allow_inf_nan=False,
        description="Quantity of each order",
    )
    warmup_ticks: int = Field(
        default=VNPY_ARRAY_SIZE,
        ge=2,
        le=1_000_000,
        description="Ticks seen before the first signal (vnpy ArrayManager size); > slow_window",
    )
    order_type: Literal[OrderType.MARKET, OrderType.LIMIT] = Field(
        default=OrderType.MARKET, description="market, or limit at the tick's last price"
    )

    @model_validator(mode="after")
    def _windows_in_order(self) -> MovingAverageParameters:
        if self.slow_window <= self.fast_window:
            raise ValueError("slow_window must be greater than fast_window")
        if self.warmup_ticks <= self.slow_window:
            raise ValueError("warmup_ticks must be greater than slow_window")
        return self


class MovingAverageStrategy(BaseStrategy):
    """Trades the fast/slow SMA crossover of last prices with a fixed size.

    Signals are vnpy DoubleMaStrategy's, one tick being one bar: a golden cross
    (fast_ma0 > slow_ma0 and fast_ma1 < slow_ma1) goes long, a death cross goes short.
    RedFire keeps one net position, so vnpy's cover+buy (sell+short) is two orders: first
    one closing the whole current position, then one of `fixed_size` opening the new side.
    """

    parameters_model: ClassVar[type[BaseModel]] = MovingAverageParameters
    description: ClassVar[str] = (
        "Fast/slow simple moving average crossover (vnpy DoubleMaStrategy): "
        "long on a golden cross, short on a death cross."
    )
    config: MovingAverageParameters

    def __init__(self, strategy_id: int, config: BaseModel, **context: Any) -> None:
        assert isinstance(config, MovingAverageParameters)
        super().__init__(strategy_id, config, **context)
        self.fast_window = config.fast_window
        self.slow_window = config.slow_window
        self.averages = SmaCrossover(config.fast_window, config.slow_window, config.warmup_ticks)
        self._update_averages = self.averages.update

    @classmethod
    def contract_problems(cls, config: BaseModel, contract: ContractInfo) -> list[dict[str, Any]]:
        """`fixed_size` must be a multiple of the contract's volume step."""
        assert isinstance(config, MovingAverageParameters)
        step = contract.min_volume
        if step > 0 and config.fixed_size % step != 0:
            message = f"must be a multiple of {step}, {contract.symbol}'s volume step"
            return [{"type": "volume_step", "loc": ["parameters", "fixed_size"], "msg": message}]
        return []

    def calculate_ma(self, window: int) -> Decimal | None:
        """The exact SMA of the last `window` (fast or slow) prices; None before enough ticks."""
        return self.averages.mean(window)

    async def on_tick(self, tick: TickSnapshot) -> None:
        """Record the price; on a crossover, reverse or open the position."""
        signal = self._update_averages(tick.last_price)
        if signal and self.running:
            await self.trade_crossover(signal, tick.last_price)

    async def trade_crossover(self, signal: int, price: Decimal) -> None:
        """vnpy's reaction: flat -> open; opposite side -> close it, then open."""
        await self.cancel_all()
        size = self.config.fixed_size
        position = self.position
        limit = price if self.config.order_type is OrderType.LIMIT else None
        if signal == GOLDEN_CROSS and position <= ZERO:
            self.write_log(f"golden cross at {price}: buy {size}")
            if position < ZERO:
                await self.buy(-position, limit)
            await self.buy(size, limit)
        elif signal == DEATH_CROSS and position >= ZERO:
            self.write_log(f"death cross at {price}: sell {size}")
            if position > ZERO:
                await self.sell(position, limit)
            await self.sell(size, limit)

    async def get_status(self) -> dict[str, Any]:
        """Base status plus the current averages."""
        status = await super().get_status()
        status["indicators"] = {
            "fast_ma": self.calculate_ma(self.fast_window),
            "slow_ma": self.calculate_ma(self.slow_window),
            "ticks_seen": self.averages.count,
        }
        return status
