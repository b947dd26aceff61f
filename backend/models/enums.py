"""Trading-domain enumerations shared by models, schemas and services."""

from __future__ import annotations

from enum import StrEnum


class UserRole(StrEnum):
    """admin administers, trader trades, viewer reads its own data."""

    ADMIN = "admin"
    TRADER = "trader"
    VIEWER = "viewer"


class OrderSide(StrEnum):
    """Direction of an order or trade."""

    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    """How an order executes."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class TimeInForce(StrEnum):
    """How long an order may wait to trade."""

    GTC = "GTC"  # good till cancelled: what does not fill rests
    IOC = "IOC"  # immediate or cancel: fills what it can at once, the rest is cancelled
    FOK = "FOK"  # fill or kill: fills whole at once, or not at all


class OrderStatus(StrEnum):
    """Order life cycle; see services/orders for the legal moves."""

    PENDING = "pending"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        """Filled, cancelled and rejected orders never change again."""
        return self in FINAL_ORDER_STATUSES

    @property
    def is_open(self) -> bool:
        """Pending, submitted and partially filled orders may still trade."""
        return self not in FINAL_ORDER_STATUSES

    @classmethod
    def open_statuses(cls) -> tuple[OrderStatus, ...]:
        """The statuses of orders that may still trade, in life-cycle order."""
        return OPEN_ORDER_STATUSES


# A tuple: `in` finds a member by identity, where a set would first hash it with Enum's
# Python-level __hash__ (seven times slower; a backtest asks once per order update).
FINAL_ORDER_STATUSES = (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)
OPEN_ORDER_STATUSES = tuple(status for status in OrderStatus if status.is_open)


class StrategyStatus(StrEnum):
    """Strategy state as stored and reported."""

    STOPPED = "stopped"
    RUNNING = "running"
    ERROR = "error"


class OptimizationStatus(StrEnum):
    """An optimisation's progress: queued -> running -> finished | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


class BacktestStatus(StrEnum):
    """A backtest's progress: queued -> running -> finished | failed, or cancelled by its
    owner while queued or running."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """Finished, failed and cancelled backtests never change again."""
        return self in (BacktestStatus.FINISHED, BacktestStatus.FAILED, BacktestStatus.CANCELLED)
