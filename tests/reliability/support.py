"""Reliability test kit: a TCP proxy that can cut connections, and real server processes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL

requires_services = pytest.mark.skipif(
    TEST_DATABASE_URL is None or TEST_REDIS_URL is None,
    reason="reliability tests need PostgreSQL and Redis (TEST_DATABASE_URL and TEST_REDIS_URL)",
)
SECRET = "reliability-secret-key-shared-by-every-replica-0123456789"
ADMIN = ("admin", "admin-password-123")
PASSWORD = "correct-horse-battery"
READY_TIMEOUT = 40.0
_UPSTREAM_CHUNK = 65_536


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def host_port(url: str) -> tuple[str, int]:
    """Host and port of a database or Redis URL."""
    parsed = make_url(url)
    default = 6379 if parsed.drivername.startswith("redis") else 5432
    return parsed.host or "127.0.0.1", parsed.port or default


def with_port(url: str, port: int) -> str:
    """`url` pointing at 127.0.0.1:`port` instead."""
    parsed = make_url(url).set(host="127.0.0.1", port=port)
    return parsed.render_as_string(hide_password=False)


async def wait_until(
    probe: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.05, what: str = ""
) -> float:
    """Poll `probe` until it is true; the seconds it took. Fails after `within` seconds."""
    started = time.monotonic()
    while not await probe():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(interval)
    return time.monotonic() - started


class TcpProxy:
    """Forwards loopback connections to upstreams, round-robin per connection.

    `cut()` closes every open connection and refuses new ones (the listener is closed, so
    connecting gets ECONNREFUSED); `restore()` listens on the same port again. `pause()`
    keeps connections open but forwards nothing, as a server stopped with SIGSTOP would
    (connections are accepted, requests wait unanswered); `resume()` delivers what waited.
    """

    def __init__(self, upstreams: Sequence[tuple[str, int]]) -> None:
        self.upstreams = list(upstreams)
        self.port = 0
        self.connections = 0
        self._next = itertools.cycle(range(len(self.upstreams)))
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    @classmethod
    async def to(cls, url: str) -> TcpProxy:
        """A started proxy in front of the server of a database or Redis URL."""
        proxy = cls([host_port(url)])
        await proxy.start()
        return proxy

    def url_for(self, url: str) -> str:
        """`url` rewritten to go through this proxy."""
        return with_port(url, self.port)

    async def start(self) -> None:
        """Listen (on a free port the first time, the same port afterwards)."""
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Drop every connection at once (RST) and refuse new ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def restore(self) -> None:
        """Accept connections again on the same port."""
        if self._server is None:
            await self.start()

    def pause(self) -> None:
        """Forward nothing (in either direction) until `resume()`."""
        self._flowing.clear()

    def resume(self) -> None:
        """Forward again, what waited first."""
        self._flowing.set()

    async def close(self) -> None:
        """Stop for good."""
        self.resume()
        await self.cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sides = [writer]
        self._open.add(writer)
        try:
            host, port = self.upstreams[next(self._next)]
            up_reader, up_writer = await asyncio.open_connection(host, port)
            sides.append(up_writer)
            self._open.add(up_writer)
            self.connections += 1
            await asyncio.gather(
                _pump(reader, up_writer, self._flowing), _pump(up_reader, writer, self._flowing)
            )
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for side in sides:
                side.transport.abort()
                self._open.discard(side)
            self._tasks.discard(task)


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
) -> None:
    try:
        while data := await reader.read(_UPSTREAM_CHUNK):
            await flowing.wait()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()


def server_env(
    *, database_url: str, redis_url: str, redis_prefix: str, replica: str, **extra: str
) -> dict[str, str]:
    """Environment of one server process: shared secret, quiet logs, deterministic market."""
    inherited = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TZ")
    env = {name: os.environ[name] for name in inherited if name in os.environ}
    env.update(
        {
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "INFO",
            "LOG_JSON": "true",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS__KEY_PREFIX": redis_prefix,
            "SECRET_KEY": SECRET,
            "REPLICA_ID": replica,
            "ADMIN__USERNAME": ADMIN[0],
            "ADMIN__PASSWORD": ADMIN[1],
            "VNPY__PAPER_TICK_INTERVAL": "0",
            "SECURITY__ARGON2_TIME_COST": "1",
            "SECURITY__ARGON2_MEMORY_COST": "1024",
            "SECURITY__ARGON2_PARALLELISM": "1",
            # Every test client logs in from 127.0.0.1: the per-address limit is not under test.
            "SECURITY__LOGIN_IP_RATE_LIMIT": "1000",
            "HOOK_TIMEOUT_SECONDS": "10",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


class ServerProcess:
    """`python -m backend.cli serve` on a free port, with its log in a file."""

    def __init__(self, env: dict[str, str], workdir: Path, *, port: int | None = None) -> None:
        # A HOME per replica: vnpy writes its settings files under it on first start, and
        # replicas starting at once in one HOME read each other's half-written files.
        self.env = {**env, "HOME": str(workdir / f"home-{env['REPLICA_ID']}")}
        self.workdir = workdir
        self.port = port or free_port()
        self.replica = env["REPLICA_ID"]
        self.log_path = workdir / f"server-{self.replica}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The HTTP root."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Spawn the server (it migrates nothing: the database is migrated beforehand)."""
        Path(self.env["HOME"]).mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "backend.cli", "serve", "--port", str(self.port)],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, within: float = READY_TIMEOUT) -> None:
        """Poll /health/ready until 200."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as http:

            async def ready() -> bool:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"{self.replica} exited early:\n{self.log()[-3000:]}")
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get("/health/ready")).status_code == 200
                return False

            await wait_until(ready, within=within, interval=0.1, what=f"{self.replica} ready")

    def signal(self, signum: signal.Signals) -> None:
        """Send a signal (SIGTERM to drain, SIGKILL to crash)."""
        assert self.process is not None
        self.process.send_signal(signum)

    async def wait_exit(self, within: float) -> int:
        """The exit code, waiting at most `within` seconds."""
        assert self.process is not None
        process = self.process

        async def exited() -> bool:
            return process.poll() is not None

        await wait_until(exited, within=within, what=f"{self.replica} exit")
        return int(process.returncode)

    def stop(self) -> None:
        """Kill the process if it still runs (test teardown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        """Everything the server wrote."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    """POST the OAuth2 password form."""
    return await http.post("/api/v1/auth/login", data={"username": username, "password": password})


async def trader_headers(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Register `username` as a trader and log in; its Authorization header."""
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    registered = await http.post("/api/v1/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    response = await login(http, username, PASSWORD)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def limit_order(price: str = "3400.0", **fields: Any) -> dict[str, Any]:
    """A resting IF2412 limit buy (below the market, so it stays open on PAPER)."""
    return {
        "symbol": "IF2412.CFFEX",
        "side": "BUY",
        "order_type": "limit",
        "quantity": 1,
        "price": price,
        **fields,
    }


class WorkerProcess(ServerProcess):
    """`python -m backend.cli worker --name NAME` in a session of its own, so that `kill()`
    takes its pool's processes with it (a machine lost, not a process stopped)."""

    def start(self) -> None:
        """Spawn the worker (it connects to the database already migrated)."""
        Path(self.env["HOME"]).mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "backend.cli", "worker", "--name", self.replica],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the worker and every process of its session, at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Kill the worker and its pool if still running (test teardown)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
