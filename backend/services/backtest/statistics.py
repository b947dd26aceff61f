"""vnpy's backtest statistics (`calculate_statistics`) from the daily table, vectorized.

Money (balance, drawdown, pnl, commission, slippage, turnover) stays exact: Decimal, reported
as decimal strings rounded to 8 places. Returns and the ratios built on them (log returns,
ddpercent, sharpe, EWM sharpe, skew, kurtosis, RGR) are floats computed with numpy, as vnpy
computes them with pandas; they agree with vnpy's to floating-point rounding (results.py
stores them as decimal strings too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from backend.schemas.common import scaled_decimal
from backend.services.backtest.daily import DailyTable

ZERO = Decimal(0)
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RatioSettings:
    """vnpy's risk_free, annual_days and half_life."""

    risk_free: float = 0.0
    annual_days: int = 240
    half_life: int = 120


@dataclass(frozen=True, slots=True)
class Curve:
    """Balance, drawdown and returns per day: the statistics' inputs and the chart's data."""

    balance: list[Decimal]
    highlevel: list[Decimal]
    drawdown: list[Decimal]
    ddpercent: FloatArray
    returns: FloatArray


def money(value: Decimal) -> str:
    """A money amount as the API writes it: 8 places, however large (never a decimal error)."""
    return scaled_decimal(value)


def equity_curve(table: DailyTable, capital: Decimal) -> Curve:
    """vnpy's balance, return (log; 0 once the balance is not positive), highlevel, drawdown."""
    balance: list[Decimal] = []
    highlevel: list[Decimal] = []
    running, peak = capital, None
    for net in table.net_pnl:
        running += net
        peak = running if peak is None or running > peak else peak
        balance.append(running)
        highlevel.append(peak)
    drawdown = [value - high for value, high in zip(balance, highlevel, strict=True)]
    balance_f = np.array([float(value) for value in balance], dtype=np.float64)
    previous = np.concatenate(([float(capital)], balance_f[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = balance_f / previous
        returns = np.log(np.where(ratio > 0, ratio, 1.0))
        high_f = np.array([float(value) for value in highlevel], dtype=np.float64)
        ddpercent = (balance_f - high_f) / high_f * 100
    return Curve(balance, highlevel, drawdown, ddpercent, returns)


def _sample_std(values: FloatArray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def _ewm_sharpe(returns: FloatArray, settings: RatioSettings, daily_risk_free: float) -> float:
    """pandas' `ewm(halflife).mean()` / `.std()` (adjust=True, bias=False) at the last day."""
    decay = 0.5 ** (1 / settings.half_life)
    weights = decay ** np.arange(len(returns) - 1, -1, -1, dtype=np.float64)
    total = weights.sum()
    mean = float((weights * returns).sum() / total)
    variance = float((weights * (returns - mean) ** 2).sum() / total)
    correction = total**2 - float((weights**2).sum())
    if correction <= 0:
        return math.nan
    std = math.sqrt(variance * total**2 / correction) * 100
    return (mean * 100 - daily_risk_free) / std * math.sqrt(settings.annual_days)


def _skew_kurt(values: FloatArray) -> tuple[float, float]:
    """pandas' bias-adjusted skewness (G1) and excess kurtosis (G2); NaN when undefined."""
    count = len(values)
    deviations = values - values.mean()
    m2 = float((deviations**2).sum())
    if m2 == 0:
        return math.nan, math.nan
    skew = kurt = math.nan
    if count >= 3:
        m3 = float((deviations**3).sum())
        skew = math.sqrt(count * (count - 1)) / (count - 2) * (m3 / count) / (m2 / count) ** 1.5
    if count >= 4:
        m4 = float((deviations**4).sum())
        numerator = count * (count + 1) * (count - 1) * m4
        denominator = (count - 2) * (count - 3) * m2**2
        adjustment = 3 * (count - 1) ** 2 / ((count - 2) * (count - 3))
        kurt = numerator / denominator - adjustment
    return skew, kurt


def rgr_ratio(
    annual_return: float, return_std: float, max_ddpercent: float, r: FloatArray
) -> float:
    """vnpy's `calc_rgr_ratio` with the inputs vnpy derives from the returns."""
    cagr = annual_return / 100
    stability = 1 / (1 + return_std / 100) if return_std > 0 else 0.0
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2))) * math.sqrt(252)
    skew, kurt = _skew_kurt(r)
    tail = np.sort(r)[: math.ceil(len(r) * 0.05)]
    cvar = float(tail.mean()) if len(tail) else math.nan
    gain = math.log(1 + cagr) if cagr > 0 else -math.log(1 - cagr)
    skew_factor = 1 + 0.1 * math.tanh(skew)
    kurt_factor = 1 / (1 + 0.05 * max(kurt - 3, 0))
    max_dd = abs(max_ddpercent) / 100
    cvar_risk = abs(cvar) if cvar != 0 else max_dd * 0.5
    risk = max(0.5 * max(downside, 1e-6) + 0.3 * max_dd + 0.2 * cvar_risk, 1e-9)
    return gain * stability * skew_factor * kurt_factor / risk


def _finite(value: float) -> float:
    # vnpy: infinities become 0, then nan_to_num turns NaN into 0.
    return 0.0 if not math.isfinite(value) else float(value)


def _drawdown_duration(table: DailyTable, curve: Curve) -> int:
    end = min(range(len(curve.drawdown)), key=curve.drawdown.__getitem__)
    start = max(range(end + 1), key=lambda index: (curve.balance[index], -index))
    return (table.date[end] - table.date[start]).days


def calculate_statistics(
    table: DailyTable, curve: Curve, capital: Decimal, settings: RatioSettings
) -> dict[str, Any]:
    """vnpy's statistics; all zero (as vnpy's) when the balance ever falls to zero or below."""
    stats: dict[str, Any] = dict.fromkeys(_FLOAT_KEYS, 0.0)
    stats.update(dict.fromkeys(_INT_KEYS, 0))
    stats.update(dict.fromkeys(_MONEY_KEYS, money(ZERO)))
    stats.update(start_date=None, end_date=None, capital=money(capital))
    if not table.date or not all(value > 0 for value in curve.balance):
        return stats
    days = len(table.date)
    totals = {
        name: sum(getattr(table, name), ZERO)
        for name in ("net_pnl", "commission", "slippage", "turnover")
    }
    end_balance = curve.balance[-1]
    for name, total in totals.items():
        stats[f"total_{name}"] = money(total)
        stats[f"daily_{name}"] = money(total / days)
    trade_count = sum(table.trade_count)
    stats.update(
        start_date=table.date[0].isoformat(),
        end_date=table.date[-1].isoformat(),
        total_days=days,
        profit_days=sum(1 for net in table.net_pnl if net > 0),
        loss_days=sum(1 for net in table.net_pnl if net < 0),
        end_balance=money(end_balance),
        max_drawdown=money(min(curve.drawdown)),
        max_drawdown_duration=_drawdown_duration(table, curve),
        total_trade_count=trade_count,
        daily_trade_count=trade_count / days,
    )
    stats.update(_ratios(curve, float(end_balance / capital), days, settings))
    return stats


def _ratios(curve: Curve, growth: float, days: int, settings: RatioSettings) -> dict[str, float]:
    returns = curve.returns
    total_return = (growth - 1) * 100
    annual_return = total_return / days * settings.annual_days
    daily_return = float(returns.mean()) * 100
    return_std = _sample_std(returns) * 100
    max_ddpercent = float(curve.ddpercent.min())
    daily_risk_free = settings.risk_free / math.sqrt(settings.annual_days)
    sharpe = ewm_sharpe = 0.0
    if return_std:  # NaN (a single day) is truthy, as in vnpy: the ratios become NaN, then 0.
        sharpe = (daily_return - daily_risk_free) / return_std * math.sqrt(settings.annual_days)
        ewm_sharpe = _ewm_sharpe(returns, settings, daily_risk_free)
    values = {
        "total_return": total_return,
        "annual_return": annual_return,
        "daily_return": daily_return,
        "return_std": return_std,
        "max_ddpercent": max_ddpercent,
        "sharpe_ratio": sharpe,
        "ewm_sharpe": ewm_sharpe,
        "return_drawdown_ratio": -total_return / max_ddpercent if max_ddpercent else 0.0,
        "rgr_ratio": rgr_ratio(annual_return, return_std, max_ddpercent, returns),
    }
    return {name: _finite(value) for name, value in values.items()}


_FLOAT_KEYS = (
    "max_ddpercent",
    "daily_trade_count",
    "total_return",
    "annual_return",
    "daily_return",
    "return_std",
    "sharpe_ratio",
    "ewm_sharpe",
    "return_drawdown_ratio",
    "rgr_ratio",
)
_INT_KEYS = ("total_days", "profit_days", "loss_days", "max_drawdown_duration", "total_trade_count")
_MONEY_KEYS = (
    "end_balance",
    "max_drawdown",
    "total_net_pnl",
    "daily_net_pnl",
    "total_commission",
    "daily_commission",
    "total_slippage",
    "daily_slippage",
    "total_turnover",
    "daily_turnover",
)
