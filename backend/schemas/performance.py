"""Performance views of the paper account: PnL by symbol or strategy, days, summary."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel

from backend.schemas.common import DecimalText, ScaledDecimalText


class PnlGrouping(StrEnum):
    """What GET /pnl groups by."""

    SYMBOL = "symbol"
    STRATEGY = "strategy"


class PnlRead(BaseModel):
    """PnL of one contract, or of one strategy's trades in one contract (`strategy_id` null:
    orders placed by hand), in the account's currency."""

    symbol: str
    strategy_id: int | None
    quantity: ScaledDecimalText
    realized_pnl: ScaledDecimalText
    unrealized_pnl: ScaledDecimalText
    commission: ScaledDecimalText
    net_pnl: ScaledDecimalText  # realized + unrealized - commission
    trade_count: int


class AccountDayRead(BaseModel):
    """One UTC day of the account, as kept when its fills were booked."""

    date: date
    realized_pnl: DecimalText
    commission: DecimalText
    net_pnl: ScaledDecimalText  # realized - commission
    trade_count: int
    balance: DecimalText  # after the day's last fill


class AccountHistoryRead(BaseModel):
    """The account's days with fills, oldest first."""

    currency: str
    initial_balance: DecimalText
    days: list[AccountDayRead]


class AccountSummaryRead(BaseModel):
    """Like freqtrade's /profit: the account's trading at a glance."""

    currency: str
    trade_count: int  # fills
    first_trade_time: datetime | None
    last_trade_time: datetime | None
    round_trips: int  # closed: a position from flat back to flat (or through zero)
    winning_round_trips: int
    losing_round_trips: int
    win_rate: ScaledDecimalText | None  # winning / closed, 0-1; null before the first close
    profit_factor: ScaledDecimalText | None  # gross profit / gross loss; null without a loss
    best_round_trip: ScaledDecimalText | None
    worst_round_trip: ScaledDecimalText | None
    realized_pnl: ScaledDecimalText
    unrealized_pnl: ScaledDecimalText
    commission: ScaledDecimalText
    net_pnl: ScaledDecimalText  # realized + unrealized - commission
    balance: ScaledDecimalText
    max_drawdown: ScaledDecimalText  # largest fall of the balance from a previous high
    max_drawdown_pct: ScaledDecimalText | None  # of that high, in percent
