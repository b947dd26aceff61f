"""The equity chart of a finished backtest: balance above, drawdown below, as one PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any


def equity_png(daily: Sequence[dict[str, Any]], *, title: str) -> bytes:
    """Render the stored daily rows (`date`, `balance`, `drawdown`) with matplotlib's Agg.

    Blocking (tens of milliseconds): call it off the event loop. A Figure of its own, never
    pyplot's global state, so concurrent renders on worker threads do not meet.
    """
    # Imported here: matplotlib is heavy and only the chart needs it.
    from matplotlib.figure import Figure

    dates = [date.fromisoformat(row["date"]) for row in daily]
    balance = [float(row["balance"]) for row in daily]
    drawdown = [float(row["drawdown"]) for row in daily]
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.plot(dates, balance, color="#1f77b4", linewidth=1.2)
    top.set_title(title)
    top.set_ylabel("balance")
    top.grid(alpha=0.3)
    bottom.fill_between(dates, drawdown, 0, color="#d62728", alpha=0.4, linewidth=0)
    bottom.plot(dates, drawdown, color="#d62728", linewidth=0.8)
    bottom.set_ylabel("drawdown")
    bottom.grid(alpha=0.3)
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
