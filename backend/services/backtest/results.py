"""A finished backtest as stored and served: statistics, trades and the daily table as JSON.

Every amount, price, quantity and ratio is a decimal string at 8 places, as the rest of the
API writes them (`scaled_decimal`); counts are integers; a ratio vnpy cannot define (a
drawdown percentage once the balance has reached zero) is null.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backend.schemas.common import scaled_decimal
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestResult
from backend.services.backtest.statistics import money


@dataclass(frozen=True, slots=True)
class StoredResult:
    """What a run leaves in its Backtest row."""

    statistics: dict[str, Any]
    trade_count: int
    trades: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    equity_png: bytes | None = None


def ratio(value: float) -> str | None:
    """A float ratio as a decimal string at 8 places; None when it is not finite."""
    return scaled_decimal(Decimal(value)) if math.isfinite(value) else None


def statistics_record(statistics: dict[str, Any]) -> dict[str, Any]:
    """vnpy's statistics as stored: the float ratios as decimal strings, the rest as they are."""
    return {
        name: ratio(value) if isinstance(value, float) else value
        for name, value in statistics.items()
    }


def trade_records(
    bars: BarSeries, result: BacktestResult, costs: CostModel, limit: int
) -> list[dict[str, Any]]:
    """The first `limit` fills, money exact: commission = price * volume * size * rate."""
    fills = result.fills
    records = []
    for position in range(min(limit, len(fills.price))):
        price, quantity = fills.price[position], fills.quantity[position]
        records.append(
            {
                "trade_time": bars.datetimes[fills.bar_index[position]].isoformat(),
                "side": fills.side[position].value,
                "price": money(price),
                "quantity": money(quantity),
                "commission": money(price * quantity * costs.size * costs.rate),
                "slippage": money(quantity * costs.size * costs.slippage),
                "order_id": fills.order_id[position],
            }
        )
    return records


def daily_records(result: BacktestResult) -> list[dict[str, Any]]:
    """vnpy's daily DataFrame as rows: money, return and ddpercent as decimal strings."""
    table, curve = result.daily, result.curve
    rows = []
    for day in range(len(table)):
        row: dict[str, Any] = {"date": table.date[day].isoformat()}
        for name in _MONEY_COLUMNS:
            row[name] = money(getattr(table, name)[day])
        row["trade_count"] = table.trade_count[day]
        row["balance"] = money(curve.balance[day])
        row["return"] = ratio(float(curve.returns[day]))
        row["highlevel"] = money(curve.highlevel[day])
        row["drawdown"] = money(curve.drawdown[day])
        row["ddpercent"] = ratio(float(curve.ddpercent[day]))
        rows.append(row)
    return rows


def stored_result(
    bars: BarSeries, result: BacktestResult, costs: CostModel, max_trades: int
) -> StoredResult:
    """Everything the row keeps but the chart."""
    return StoredResult(
        statistics=statistics_record(result.statistics),
        trade_count=len(result.fills.price),
        trades=trade_records(bars, result, costs, max_trades),
        daily=daily_records(result),
    )


_MONEY_COLUMNS = (
    "close_price",
    "pre_close",
    "start_pos",
    "end_pos",
    "turnover",
    "commission",
    "slippage",
    "trading_pnl",
    "holding_pnl",
    "total_pnl",
    "net_pnl",
)
