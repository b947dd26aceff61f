"""Research runs at a low CPU priority: what it takes from a shared machine is idle time.

A backtest or a sweep is CPU-bound for minutes; the order path is short bursts that must
not wait behind it. Niceness is inherited by threads and processes started afterwards, so it
is set once, first thing, in each research process (`redfire worker`, each pool process).
"""

from __future__ import annotations

import os


def lower_priority(nice: int) -> None:
    """Run the calling process (on Linux: thread, and all it starts later) at niceness `nice`
    at least; a priority already lower is kept (raising it back needs privileges)."""
    if not hasattr(os, "setpriority"):  # not a POSIX system: nothing to lower
        return
    if os.getpriority(os.PRIO_PROCESS, 0) < nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
