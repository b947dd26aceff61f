"""Research processes lower their own CPU priority, never raise it (RESEARCH__CPU_PRIORITY)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Run in a child: a priority once lowered cannot be raised back by this process.
PROBE = """
import os, sys
from backend.services.research.priority import lower_priority
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
