"""The equity chart of a finished backtest: balance above, drawdown below, as one PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

# date.fromordinal's range: the x axis is day ordinals, labelled as dates where they exist.
_FIRST_ORDINAL = date.min.toordinal()
_LAST_ORDINAL = date.max.toordinal()


def _day_label(ordinal: float, _position: object = None) -> str:
    day = round(ordinal)
    if not _FIRST_ORDINAL <= day <= _LAST_ORDINAL:
        return ""
    return date.fromordinal(day).isoformat()


def equity_curve_points(
    daily: Sequence[dict[str, Any]], capital: Decimal
) -> tuple[list[int], list[float], list[float]]:
    """Day ordinals, balances and drawdowns, starting the day before the first at `capital`.

    The drawdown is measured from the highest balance so far, the starting capital included,
    so a first day's loss shows as one (vnpy's daily `drawdown` starts at the first close).
    """
    ordinals = [date.fromisoformat(row["date"]).toordinal() for row in daily]
    balances = [capital, *(Decimal(row["balance"]) for row in daily)]
    peak = capital
    drawdowns = []
    for balance in balances:
        peak = max(peak, balance)
        drawdowns.append(float(balance - peak))
    start = ordinals[0] - 1 if ordinals else 0
    return [start, *ordinals], [float(balance) for balance in balances], drawdowns


def equity_png(daily: Sequence[dict[str, Any]], *, capital: Decimal, title: str) -> bytes:
    """Render the stored daily rows (`date`, `balance`) with matplotlib's Agg.

    Blocking (tens of milliseconds): call it off the event loop. A Figure of its own, never
    pyplot's global state, so concurrent renders on worker threads do not meet. The x axis
    is plain day numbers with date labels rather than matplotlib's dates, whose locators
    fail for days near 0001-01-01 and 9999-12-31: every date a backtest can hold draws.
    """
    # Imported here: matplotlib is heavy and only the chart needs it.
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    days, balance, drawdown = equity_curve_points(daily, capital)
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.plot(days, balance, color="#1f77b4", linewidth=1.2)
    top.axhline(float(capital), color="#7f7f7f", linewidth=0.6, linestyle="--")
    top.set_title(title)
    top.set_ylabel("balance")
    top.grid(alpha=0.3)
    bottom.fill_between(days, drawdown, 0, color="#d62728", alpha=0.4, linewidth=0)
    bottom.plot(days, drawdown, color="#d62728", linewidth=0.8)
    bottom.set_ylabel("drawdown")
    bottom.grid(alpha=0.3)
    bottom.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    bottom.xaxis.set_major_formatter(FuncFormatter(_day_label))
    bottom.tick_params(axis="x", labelrotation=30)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
