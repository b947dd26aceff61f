"""The real server: `redfire migrate` + `redfire serve`, as `make run` does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, float]]:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS"))},
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db",
        "ENVIRONMENT": "development",
        "HOME": str(tmp_path),
    }
    cli = [sys.executable, "-m", "backend.cli"]
    subprocess.run([*cli, "migrate"], env=env, cwd=tmp_path, check=True, capture_output=True)
    started = time.monotonic()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = started + 30
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server never became ready"
            time.sleep(0.05)
        yield base, time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_served_app_is_ready_within_five_seconds(served: tuple[str, float]) -> None:
    base, ready_after = served
    assert ready_after < 5, f"ready after {ready_after:.2f}s"
    health = httpx.get(f"{base}/health").json()
    assert health["status"] == "healthy"
    metrics = httpx.get(f"{base}/metrics").text
    assert 'route="/health/ready"' in metrics
    docs = httpx.get(f"{base}/docs").text
    assert "/static/docs/swagger-ui-bundle.js" in docs
