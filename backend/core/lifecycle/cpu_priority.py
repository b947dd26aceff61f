"""Research runs at a low CPU priority: what it takes from a shared machine is idle time.

A backtest or a sweep is CPU-bound for minutes; the order path is short bursts that must
not wait behind it. The priority is inherited by the threads and processes started
afterwards, so it is set once, first thing, in each research process (`redfire worker`,
each pool process):

- `idle`: Linux's SCHED_IDLE policy, the lowest there is: the process runs when the CPU
  would otherwise idle, and a woken API or database process preempts it at once;
- `low`: niceness 19 (any POSIX system);
- `normal`: left as it is.

A low priority decides who runs first, not what being switched in costs: an idle-priority
backtest still runs in every gap the API leaves while it awaits the database, and each switch
back costs the API its caches (measured: ~30 % more CPU per order, throughput 0.6x of quiet).
So at `idle` and `low` a research thread also steps aside at its checkpoints (`Courtesy`,
between two segments of a replay) when it got less of a core than it asked for since the
last one: something with a better claim was busy (throughput then 0.94-0.97x of quiet).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Literal

CpuPriority = Literal["idle", "low", "normal"]
LOWEST_NICE = 19
# A research thread that got less than this share of a core between two checkpoints was
# contended; it then pauses PAUSE_FACTOR times that interval (at most MAX_PAUSE seconds).
CONTENDED_SHARE = 0.8
PAUSE_FACTOR = 10.0
MAX_PAUSE = 2.0
_courteous = False


def lower_priority(priority: CpuPriority) -> None:
    """Run the calling process (on Linux: thread, and all it starts later) at `priority`.

    Never raises it: a priority already lower is kept (raising it back needs privileges).
    """
    global _courteous
    if priority == "normal" or not hasattr(os, "setpriority"):  # not a POSIX system
        return
    _courteous = True
    if os.getpriority(os.PRIO_PROCESS, 0) < LOWEST_NICE:
        os.setpriority(os.PRIO_PROCESS, 0, LOWEST_NICE)
    if priority == "idle" and hasattr(os, "SCHED_IDLE"):  # Linux only; elsewhere nice 19
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


class Courtesy:
    """One research thread's checkpoints: `checkpoint()` between two stretches of pure
    computation pauses when the thread got less than CONTENDED_SHARE of a core since the
    previous one, PAUSE_FACTOR times as long as that interval (at most MAX_PAUSE): while
    something with a better claim keeps the cores busy, research steps aside for most of
    the time instead of being switched in at each of its pauses. A no-op in a process whose
    priority was not lowered (the API's own threads)."""

    __slots__ = ("_clock", "_courteous", "_cpu_clock", "_since", "_sleep")

    def __init__(
        self,
        *,
        courteous: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.thread_time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._courteous = _courteous if courteous is None else courteous
        self._clock, self._cpu_clock, self._sleep = clock, cpu_clock, sleep
        self._since: tuple[float, float] | None = None

    def checkpoint(self) -> None:
        """Pause if contended since the last checkpoint (the first only starts the clock)."""
        if not self._courteous:
            return
        now, used = self._clock(), self._cpu_clock()
        if self._since is not None:
            wall, cpu = now - self._since[0], used - self._since[1]
            if wall > 0 and cpu < CONTENDED_SHARE * wall:
                self._sleep(min(PAUSE_FACTOR * wall, MAX_PAUSE))
                now, used = self._clock(), self._cpu_clock()
        self._since = (now, used)
