"""Research runs at a low CPU priority: what it takes from a shared machine is idle time.

A backtest or a sweep is CPU-bound for minutes; the order path is short bursts that must
not wait behind it. The priority is inherited by the threads and processes started
afterwards, so it is set once, first thing, in each research process (`redfire worker`,
each pool process):

- `idle`: Linux's SCHED_IDLE policy, the lowest there is: the process runs when the CPU
  would otherwise idle, and a woken API or database process preempts it at once;
- `low`: niceness 19 (any POSIX system);
- `normal`: left as it is.
"""

from __future__ import annotations

import os
from typing import Literal

CpuPriority = Literal["idle", "low", "normal"]
LOWEST_NICE = 19


def lower_priority(priority: CpuPriority) -> None:
    """Run the calling process (on Linux: thread, and all it starts later) at `priority`.

    Never raises it: a priority already lower is kept (raising it back needs privileges).
    """
    if priority == "normal" or not hasattr(os, "setpriority"):  # not a POSIX system
        return
    if os.getpriority(os.PRIO_PROCESS, 0) < LOWEST_NICE:
        os.setpriority(os.PRIO_PROCESS, 0, LOWEST_NICE)
    if priority == "idle" and hasattr(os, "SCHED_IDLE"):  # Linux only; elsewhere nice 19
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
