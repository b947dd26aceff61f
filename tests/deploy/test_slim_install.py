"""The slim runtime (vnpy without Qt) installs in a fresh virtualenv and serves.

Slow and needs PyPI: it runs when REDFIRE_SLIM_CHECK=1 (`make slim-check` runs the same
script directly, and CI calls that).
"""

from __future__ import annotations

import os
import re
import sys

import pytest

from tests.deploy.conftest import REPO, run

pytestmark = pytest.mark.skipif(
    os.environ.get("REDFIRE_SLIM_CHECK") != "1",
    reason="slim install check builds a venv from PyPI (~1 min): set REDFIRE_SLIM_CHECK=1, "
    "or run `make slim-check` (CI does)",
)


def test_slim_runtime_installs_without_qt_and_serves() -> None:
    result = run(sys.executable, str(REPO / "scripts" / "slim_install_check.py"), timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "runtime ok:" in output
    assert "cta ok: 9 vnpy CTA strategies offered; DoubleMaStrategy backtest" in output
    assert "answers: {'/health/live': 200, '/health/ready': 200, '/metrics': 200}" in output
    size = re.search(r"slim venv size: (\d+) MiB", output)
    assert size is not None
    print(f"slim venv size: {size.group(1)} MiB")
