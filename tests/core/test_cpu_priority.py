"""Research processes lower their own CPU priority, never raise it (RESEARCH__CPU_PRIORITY),
and step aside at their checkpoints while busier work has the cores (Courtesy)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from backend.core.lifecycle.cpu_priority import CONTENDED_SHARE, MAX_PAUSE, PAUSE_FACTOR, Courtesy

# Run in a child: a priority once lowered cannot be raised back by this process.
PROBE = """
import os, sys
from backend.core.lifecycle.cpu_priority import lower_priority
if sys.argv[2]:
    os.setpriority(os.PRIO_PROCESS, 0, int(sys.argv[2]))
lower_priority(sys.argv[1])
print(os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0))
"""


def priority_after(priority: str, nice_before: int | None = None) -> tuple[int, int]:
    """(scheduling policy, niceness) of a process after lower_priority(priority)."""
    argv = [sys.executable, "-c", PROBE, priority, "" if nice_before is None else str(nice_before)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.parametrize(
    ("priority", "expected"),
    [("idle", (os.SCHED_IDLE, 19)), ("low", (os.SCHED_OTHER, 19))],
)
def test_research_priority_is_lowered(priority: str, expected: tuple[int, int]) -> None:
    assert priority_after(priority) == expected


def test_normal_leaves_the_priority_as_it_was() -> None:
    assert priority_after("normal", nice_before=5) == (os.SCHED_OTHER, 5)


def test_a_lower_priority_is_kept() -> None:
    """A process already at nice 19 stays there (raising it would need privileges)."""
    assert priority_after("low", nice_before=19) == (os.SCHED_OTHER, 19)


class Clocks:
    """Wall and CPU clocks a test moves by hand; `sleep` records pauses and lets time pass."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.pauses: list[float] = []

    def run(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.wall += seconds


def courtesy(clocks: Clocks, *, courteous: bool = True) -> Courtesy:
    return Courtesy(
        courteous=courteous,
        clock=lambda: clocks.wall,
        cpu_clock=lambda: clocks.cpu,
        sleep=clocks.sleep,
    )


def test_a_research_thread_that_had_the_core_to_itself_goes_on() -> None:
    clocks = Clocks()
    checkpoints = courtesy(clocks)
    checkpoints.checkpoint()
    for _ in range(3):
        clocks.run(wall=0.1, cpu=0.1 * CONTENDED_SHARE + 0.001)
        checkpoints.checkpoint()
    assert clocks.pauses == []


def test_a_contended_research_thread_steps_aside_for_longer_than_it_waited() -> None:
    clocks = Clocks()
    checkpoints = courtesy(clocks)
    checkpoints.checkpoint()
    clocks.run(wall=0.1, cpu=0.03)  # the API and the database had the cores
    checkpoints.checkpoint()
    clocks.run(wall=1.0, cpu=0.1)
    checkpoints.checkpoint()
    # The pause itself is not counted against the next interval.
    clocks.run(wall=0.1, cpu=0.1)
    checkpoints.checkpoint()
    assert clocks.pauses == [pytest.approx(PAUSE_FACTOR * 0.1), MAX_PAUSE]


def test_the_api_process_never_pauses() -> None:
    clocks = Clocks()
    checkpoints = courtesy(clocks, courteous=False)
    checkpoints.checkpoint()
    clocks.run(wall=1.0, cpu=0.0)
    checkpoints.checkpoint()
    assert clocks.pauses == []
