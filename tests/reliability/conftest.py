"""Fixtures of the reliability tests: a fresh PostgreSQL database and Redis prefix per test,
and an in-process app whose PostgreSQL and Redis go through proxies the test owns."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.core.database.migrations import upgrade
from backend.main import create_app
from backend.services.users import UserService
from tests.conftest import TEST_REDIS_URL, create_database, drop_database
from tests.reliability.support import (
    PASSWORD,
    ServerProcess,
    TcpProxy,
    WorkerProcess,
    login,
    server_env,
)


@dataclass(frozen=True)
class Services:
    """One test's own database and Redis key prefix on the shared servers."""

    database_url: str
    redis_url: str
    redis_prefix: str
    workdir: Path

    def server(self, replica: str, **extra: str) -> ServerProcess:
        """A server process (not started) on these services."""
        env = server_env(
            database_url=self.database_url,
            redis_url=self.redis_url,
            redis_prefix=self.redis_prefix,
            replica=replica,
            **extra,
        )
        return ServerProcess(env, self.workdir)

    def worker(self, name: str, **extra: str) -> WorkerProcess:
        """A `redfire worker` process (not started) on these services."""
        env = server_env(
            database_url=self.database_url,
            redis_url=self.redis_url,
            redis_prefix=self.redis_prefix,
            replica=name,
            **extra,
        )
        return WorkerProcess(env, self.workdir)


@contextmanager
def own_services(workdir: Path) -> Iterator[Services]:
    """A migrated database and a Redis prefix of one's own, removed afterwards."""
    if TEST_REDIS_URL is None:
        pytest.skip("needs Redis")
    name = f"redfire_rel_{uuid.uuid4().hex[:12]}"
    url = create_database(name)
    prefix = f"redfire-rel-{uuid.uuid4().hex[:12]}:"
    try:
        upgrade(url)
        yield Services(url, TEST_REDIS_URL, prefix, workdir)
    finally:
        drop_database(name)
        _delete_prefix(TEST_REDIS_URL, prefix)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """This test's own database and Redis prefix."""
    with own_services(tmp_path) as own:
        yield own


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Server processes a test started; every one still running is killed afterwards."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()
        # Shown by pytest only when the test failed.
        errors = [line for line in server.log().splitlines() if '"level": "error"' in line]
        print(f"--- {server.replica} :{server.port}: {len(errors)} error lines", *errors[:3])


def _delete_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
    finally:
        client.close()


@dataclass
class FaultRig:
    """An app on proxied PostgreSQL and Redis, a trader's headers, and the proxies."""

    http: httpx.AsyncClient
    container: AppContainer
    database: TcpProxy
    redis: TcpProxy
    headers: dict[str, str]
    username: str
    app: FastAPI
    redis_prefix: str

    @asynccontextmanager
    async def replica(self, name: str) -> AsyncIterator[httpx.AsyncClient]:
        """Another replica on the same proxied PostgreSQL and Redis, started; a client of it."""
        config = self.app.state.container.config.model_copy(update={"replica_id": name})
        app = create_app(config)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield http

    def empty_redis(self) -> None:
        """Delete this app's keys behind its back, as a Redis restarted empty would have."""
        assert TEST_REDIS_URL is not None
        _delete_prefix(TEST_REDIS_URL, self.redis_prefix)


@pytest.fixture
async def rig(make_config: Callable[..., AppConfig], database_url: str) -> AsyncIterator[FaultRig]:
    assert TEST_REDIS_URL is not None
    database = await TcpProxy.to(database_url)
    redis = await TcpProxy.to(TEST_REDIS_URL)
    run = uuid.uuid4().hex[:8]
    prefix = f"redfire-faults-{run}:"
    config = make_config(
        replica_id=f"faults-{run}",
        database={"url": database.url_for(database_url), "pool_timeout": 2.0},
        redis={"url": redis.url_for(TEST_REDIS_URL), "key_prefix": prefix},
    )
    app = create_app(config)
    container: AppContainer = app.state.container
    try:
        async with app.router.lifespan_context(app):
            username = f"fault-trader-{run}"
            async with container.database.session() as session:
                await UserService(container.security.passwords).create(
                    session, username=username, email=f"{username}@example.com", password=PASSWORD
                )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                token = (await login(http, username, PASSWORD)).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                yield FaultRig(http, container, database, redis, headers, username, app, prefix)
                redis.resume()
                await redis.restore()
                await container.cache.clear()
    finally:
        await database.close()
        await redis.close()
