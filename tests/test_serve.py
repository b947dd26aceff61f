"""The real server: `redfire migrate` + `redfire serve`, as `make run` does; the uvicorn CLI."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.api.stream import WAIT, StalledClient

CLI = [sys.executable, "-m", "backend.cli"]
SERVE = [*CLI, "serve"]
UVICORN = [sys.executable, "-m", "uvicorn", "backend.main:app", "--log-level", "info"]
MESSAGE_TOO_BIG = 1009


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A running server: its address, how long it took to be ready, and its log file."""

    base: str
    ready_after: float
    log: Path

    @property
    def ws(self) -> str:
        """The WebSocket endpoint."""
        return self.base.replace("http://", "ws://") + "/api/v1/ws"


@contextmanager
def running(tmp_path: Path, command: list[str]) -> Iterator[Served]:
    """Migrate a fresh SQLite file and serve it with `command` on a free port until exit."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS"))},
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db",
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "INFO",
        "HOME": str(tmp_path),
        "SECURITY__ARGON2_TIME_COST": "1",
        "SECURITY__ARGON2_MEMORY_COST": "1024",
    }
    subprocess.run([*CLI, "migrate"], env=env, cwd=tmp_path, check=True, capture_output=True)
    log = tmp_path / "server.log"
    started = time.monotonic()
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [*command, "--port", str(port)], env=env, cwd=tmp_path, stdout=sink, stderr=sink
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = started + 30
        while True:
            assert server.poll() is None, log.read_text(errors="replace")
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server never became ready"
            time.sleep(0.05)
        yield Served(base, time.monotonic() - started, log)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with running(tmp_path, SERVE) as server:
        yield server


def test_served_app_is_ready_within_five_seconds(served: Served) -> None:
    assert served.ready_after < 5, f"ready after {served.ready_after:.2f}s"
    health = httpx.get(f"{served.base}/health").json()
    assert health["status"] == "healthy"
    metrics = httpx.get(f"{served.base}/metrics").text
    assert 'route="/health/ready"' in metrics
    docs = httpx.get(f"{served.base}/docs").text
    assert "/static/docs/swagger-ui-bundle.js" in docs


async def test_served_app_refuses_an_oversized_frame_before_reading_it(served: Served) -> None:
    """`redfire serve` gives uvicorn STREAM__WS_MAX_MESSAGE_BYTES: 15 MB announced in the
    first, unauthenticated frame is closed 1009 from its header, the payload never awaited."""
    client = await StalledClient.connect(served.ws)
    try:
        await client.send_frame_start(15 * 1024 * 1024, b" " * 1024)
        assert await asyncio.wait_for(client.close_code(), WAIT) == MESSAGE_TOO_BIG
    finally:
        client.close()


@pytest.mark.parametrize("command", [SERVE, UVICORN], ids=["redfire serve", "uvicorn CLI"])
def test_no_token_or_key_reaches_the_log(tmp_path: Path, command: list[str]) -> None:
    """uvicorn logs each WebSocket handshake with its query string; the line is redacted."""
    api_key = "an-api-key-that-must-not-be-logged"
    with running(tmp_path, command) as server, httpx.Client(base_url=server.base) as http:
        account = {"username": "logged", "email": "logged@example.com", "password": "pw-12345678"}
        assert http.post("/api/v1/auth/register", json=account).status_code == 201
        form = {"username": "logged", "password": "pw-12345678"}
        tokens = http.post("/api/v1/auth/login", data=form).json()
        access = tokens["access_token"]
        with connect(f"{server.ws}?token={access}&api_key={api_key}") as ws:
            ws.send(json.dumps({"op": "ping"}))
            assert json.loads(ws.recv(timeout=WAIT))["topic"] == "pong"
        bearer = {"Authorization": f"Bearer {access}"}
        me = http.get(f"/api/v1/users/me?token={access}", headers=bearer)
        # Not a parameter of the route: 422 naming it (never its value); the line is redacted.
        assert me.status_code == 422
        assert access not in me.text
        # A token and a key at once are refused (ambiguous); a key that is none, too.
        both = http.get("/api/v1/users/me", headers={**bearer, "X-API-Key": api_key})
        keyed = http.get("/api/v1/users/me", headers={"X-API-Key": api_key})
        assert (both.status_code, keyed.status_code) == (401, 401)
        refresh = {"refresh_token": tokens["refresh_token"]}
        assert http.post("/api/v1/auth/refresh", json=refresh).status_code == 200
    log = server.log.read_text(errors="replace")
    assert "WebSocket /api/v1/ws?token=[redacted]&api_key=[redacted]" in log, log[-3000:]
    for secret in (access, tokens["refresh_token"], api_key):
        assert secret not in log
