"""Fixtures of the reliability tests: a fresh PostgreSQL database and Redis prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.core.database.migrations import upgrade
from tests.conftest import TEST_REDIS_URL, create_database, drop_database
from tests.reliability.support import ServerProcess, server_env


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
