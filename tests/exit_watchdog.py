"""A test run that has ended must end its process.

Once, on CI, every test had passed and the summary was printed, and the process then waited
80 minutes at exit (for a non-daemon thread, an executor's worker or a multiprocessing child)
until the CI's time ran out: nothing of the run landed and nothing said what held it. Armed
when pytest unconfigures, a daemon thread waits `grace` seconds for the interpreter to
finish; past it, it prints what still runs (every thread's stack, the child processes) and
ends the process with the run's own exit status. The report names the culprit for the
next fix; the tests' verdict stands, it is not turned into a timeout.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TextIO


def _children() -> list[str]:
    pid = os.getpid()
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    described = []
    for child in listed:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            command = b"(gone)"
        described.append(f"  pid {child}: {command.decode(errors='replace').strip()}")
    return described


def report(stream: TextIO, grace: float) -> None:
    """What keeps this process alive: every other thread's stack, every child process."""
    frames = sys._current_frames()
    lines = [
        "",
        f"=== exit watchdog: the test process has not exited {grace:.0f} s after the run ended ===",
    ]
    for thread in threading.enumerate():
        if thread is threading.current_thread():
            continue
        kind = "daemon" if thread.daemon else "NON-DAEMON"
        lines.append(f"--- thread {thread.name!r} ({kind})")
        frame = frames.get(thread.ident or -1)
        if frame is not None:
            lines.extend(line.rstrip() for line in traceback.format_stack(frame))
    lines.append("--- child processes")
    lines.extend(_children() or ["  (none)"])
    stream.write("\n".join(lines) + "\n")
    stream.flush()


def arm(exit_status: int, grace: float, stream: TextIO) -> None:
    """End the process with `exit_status` if it is still alive `grace` seconds from now."""

    def watch() -> None:
        time.sleep(grace)
        report(stream, grace)
        os._exit(exit_status)

    threading.Thread(target=watch, name="exit-watchdog", daemon=True).start()
