"""Shared fixtures: one app per test session, on SQLite+memory or PostgreSQL+Redis.

The backend is chosen by TEST_DATABASE_URL / TEST_REDIS_URL. Each run gets its own database
(PostgreSQL) or file (SQLite) and its own Redis key prefix, and removes them at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.core.database.base import Base
from backend.core.database.migrations import upgrade
from backend.main import create_app
from backend.schemas.market import TickRead
from backend.services.market.paper_feed import inject
from backend.services.vnpy.errors import UnknownGatewayError
from tests import exit_watchdog

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
RUN_ID = uuid.uuid4().hex[:10]


# Seconds the process may take to exit once the run has ended (it takes under one).
EXIT_GRACE_SECONDS = 60.0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remember the run's verdict for the exit watchdog."""
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """From here the interpreter only has to exit: see tests/exit_watchdog.py."""
    status = config.stash.get(_EXIT_STATUS, 1)
    exit_watchdog.arm(status, EXIT_GRACE_SECONDS, sys.__stderr__ or sys.stderr)


_EXIT_STATUS = pytest.StashKey[int]()


def pytest_report_header() -> str:
    """Say which backends this run uses."""
    database = "postgresql" if TEST_DATABASE_URL else "sqlite"
    cache = "redis" if TEST_REDIS_URL else "memory"
    return f"redfire backends: database={database} cache={cache} run={RUN_ID}"


async def _admin_execute(admin_url: str, *statements: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def create_database(name: str) -> str:
    """A fresh PostgreSQL database named `name` on the test server; returns its URL."""
    assert TEST_DATABASE_URL is not None
    asyncio.run(_admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"'))
    return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    """Drop a database created by `create_database`."""
    assert TEST_DATABASE_URL is not None
    asyncio.run(_admin_execute(TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this test run."""
    if TEST_DATABASE_URL is None:
        path = tmp_path_factory.mktemp("db") / "redfire.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url
        return
    name = f"redfire_test_{RUN_ID}"
    url = create_database(name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(name)


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    """This run's Redis key prefix; every key under it is deleted at the end."""
    prefix = f"redfire-test-{RUN_ID}:"
    yield prefix
    if TEST_REDIS_URL is not None:
        import redis

        client = redis.Redis.from_url(TEST_REDIS_URL)
        try:
            for key in client.scan_iter(match=prefix + "*", count=1000):
                client.delete(key)
        finally:
            client.close()


@pytest.fixture(scope="session")
def make_config(database_url: str, redis_prefix: str) -> Callable[..., AppConfig]:
    """Build a test AppConfig on this run's backends; keyword arguments override sections."""

    def factory(**overrides: Any) -> AppConfig:
        values: dict[str, Any] = {
            "environment": "test",
            "log_json": False,
            # The app's own analyze (autovacuum is off on the test server) would race the
            # tests that analyze: tests/core/test_planner_statistics.py runs it by hand.
            "database": {"url": database_url, "analyze_interval": 0},
            "redis": {"url": TEST_REDIS_URL, "key_prefix": redis_prefix},
            "security": {
                "secret_key": TEST_SECRET,
                "argon2_time_cost": 1,
                "argon2_memory_cost": 1024,
            },
            "vnpy": {"paper_tick_interval": 0},
            # The in-process app runs research on its own pool on both backends; the
            # procrastinate engine (PostgreSQL) is tested with `redfire worker` processes
            # in tests/reliability/test_research_workers.py. At the API's CPU priority: an
            # idle-priority pool (the default) waits for whatever else the test machine
            # runs, for minutes on a busy one; test_optimizations checks the default pool.
            "research": {"engine": "local", "cpu_priority": "normal"},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}
            else:
                values[key] = value
        return AppConfig(_env_file=None, **values)  # type: ignore[call-arg]

    return factory


@pytest.fixture(scope="session")
async def session_app(make_config: Callable[..., AppConfig]) -> AsyncIterator[FastAPI]:
    """The application shared by the whole session, started once."""
    app = create_app(make_config())
    async with app.router.lifespan_context(app):
        yield app


async def quiesce(container: AppContainer) -> None:
    """Let the gateway events a test left in flight reach the database before it is emptied."""
    trading = container.trading
    async with asyncio.timeout(10):
        if trading.market.is_running:
            await trading.market.flush()
        await trading.events.drain()


def reset_paper_market(container: AppContainer) -> None:
    """Cancel what rests in the PAPER books and show each contract's latest book afresh.

    The session's gateway outlives each test: a test's resting orders must not trade, nor its
    orders' fills use up the depth of the current tick, in the next test.
    """
    market = container.trading.market
    if not market.is_running:
        return
    for order in market.list_open_orders():
        market.cancel_order(order.vt_orderid)
    try:
        paper = market.paper_gateway()
    except UnknownGatewayError:
        return
    for contract in market.list_contracts():
        snapshot = market.get_tick(contract.symbol)
        if contract.gateway == paper.gateway_name and snapshot is not None:
            inject(market, TickRead.model_validate(snapshot))


async def reset_state(container: AppContainer) -> None:
    """Empty every table and the cache, so each test starts from a clean slate."""
    await quiesce(container)
    reset_paper_market(container)
    await quiesce(container)
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    if tables and not container.config.database.is_sqlite:
        quoted = ", ".join(f'"{name}"' for name in tables)
        statements = [f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"]
    else:
        # Table names come from our own metadata, not from input.
        statements = [f'DELETE FROM "{name}"' for name in tables]  # noqa: S608
    for attempt in range(5):
        try:
            async with container.database.session() as session:
                for statement in statements:
                    await session.execute(text(statement))
            break
        except DBAPIError as exc:
            # A background writer a test started (a strategy's order, a late fill) can
            # deadlock with TRUNCATE; PostgreSQL aborts one side, and emptying again is safe.
            if attempt == 4 or "deadlock" not in str(exc.orig).lower():
                raise
            await quiesce(container)
    await container.cache.clear()


@pytest.fixture
async def app(session_app: FastAPI) -> AsyncIterator[FastAPI]:
    """The session's app, cleaned after each test."""
    yield session_app
    await reset_state(session_app.state.container)


@pytest.fixture
def container(app: FastAPI) -> AppContainer:
    """The app's components."""
    container: AppContainer = app.state.container
    return container


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def project_root() -> Path:
    """The repository root."""
    return Path(__file__).resolve().parent.parent
