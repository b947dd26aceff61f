"""Recording survives restarts and replicas: no minute missing, none twice, none counted twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.core.database.migrations import upgrade
from backend.main import create_app
from backend.models.enums import UserRole
from backend.models.market import MarketTick
from backend.services.users import UserService
from tests.api.conftest import Account, MakeAccount, login
from tests.api.market_history import IF, bars, inject, settle
from tests.api.stream import container_of, started_app
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, create_database, drop_database
from tests.reliability.support import wait_until

WINDOW = {"symbol": IF, "start": "2024-05-06T08:59:00Z", "end": "2024-05-06T09:03:00Z"}


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own: a SQLite file, or PostgreSQL's when in use."""
    if TEST_DATABASE_URL is None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}"
        upgrade(url)
        yield url
        return
    name = f"redfire_restart_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(name)


@asynccontextmanager
async def running(config: AppConfig) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield app, client


async def admin_of(app: FastAPI, client: httpx.AsyncClient, *, create: bool) -> Account:
    container: AppContainer = app.state.container
    if create:
        async with container.database.session() as session:
            await UserService(container.security.passwords).create(
                session,
                username="recorder",
                email="recorder@example.com",
                password="recorder-password",
                role=UserRole.ADMIN,
            )
    tokens = (await login(client, "recorder", "recorder-password")).json()
    return Account(0, "recorder", "", "", UserRole.ADMIN, tokens["access_token"], "")


async def test_a_restart_mid_minute_leaves_every_minute_once_and_whole(
    make_config: Callable[..., AppConfig], own_database: str
) -> None:
    config = make_config(
        database={"url": own_database},
        redis={"url": None},
        market={"record_ticks": True, "tick_retention_days": 0},
    )
    first_run = [
        ("2024-05-06T08:59:59Z", "3500", 100),
        ("2024-05-06T09:00:10Z", "3500", 110),
        ("2024-05-06T09:00:40Z", "3502", 112),
        ("2024-05-06T09:01:05Z", "3501", 120),
        ("2024-05-06T09:01:20Z", "3503.4", 125),
    ]
    async with running(config) as (app, client):
        admin = await admin_of(app, client, create=True)
        await inject(client, admin, first_run)
        await settle(container_of(app))
    # Stopped in the middle of 09:01: its first part was written at shutdown.
    second_run = [
        ("2024-05-06T09:01:40Z", "3499", 131),
        ("2024-05-06T09:01:50Z", "3500", 133),
        ("2024-05-06T09:02:10Z", "3500", 140),
        ("2024-05-06T09:03:00Z", "3500", 141),
    ]
    async with running(config) as (app, client):
        admin = await admin_of(app, client, create=False)
        await inject(client, admin, second_run)
        await settle(container_of(app))
        found = await bars(client, admin, **WINDOW)
        coverage = await client.get(
            "/api/v1/market/bars/coverage", headers=admin.headers, params=WINDOW
        )
        async with container_of(app).database.session() as session:
            ticks = await session.scalar(
                select(func.count())
                .select_from(MarketTick)
                .where(
                    MarketTick.symbol == IF,
                    MarketTick.datetime >= datetime(2024, 5, 6, tzinfo=UTC),
                    MarketTick.datetime < datetime(2024, 5, 7, tzinfo=UTC),
                )
            )
    assert [bar["datetime"][11:16] for bar in found] == ["08:59", "09:00", "09:01", "09:02"]
    minute = found[2]
    # 8 + 5 before the restart, 2 after it (the restart lost the 6 traded in between).
    assert (minute["open"], minute["high"], minute["low"], minute["close"], minute["volume"]) == (
        "3501",
        "3503.4",
        "3499",
        "3500",
        "15",
    )
    [entry] = coverage.json()
    assert (entry["count"], entry["gaps"]) == (4, [])
    assert ticks == len(first_run) + len(second_run)


@pytest.mark.skipif(TEST_REDIS_URL is None, reason="replicas share a PAPER market through Redis")
async def test_two_replicas_recording_one_market_store_each_minute_once(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    make_config: Callable[..., AppConfig],
) -> None:
    admin = await make_account(UserRole.ADMIN)
    ticks = [
        ("2024-05-07T08:59:59Z", "3500", 1000),
        ("2024-05-07T09:00:10Z", "3500", 1010),
        ("2024-05-07T09:00:40Z", "3502", 1015),
        ("2024-05-07T09:01:05Z", "3501", 1020),
    ]
    async with started_app(make_config, replica_id="replica-b") as other:
        replica_b = container_of(other)
        feed = replica_b.trading.paper_feed
        assert replica_b.messaging.shared
        await asyncio.wait_for(feed.listening.wait(), 10)
        await inject(client, admin, ticks)
        last = datetime(2024, 5, 7, 9, 1, 5, tzinfo=UTC)

        async def arrived() -> bool:
            tick: Any = replica_b.trading.market.get_tick(IF)
            return tick is not None and tick.datetime == last

        await wait_until(arrived, within=10, what="replica B receives the injected ticks")
        await settle(container)
        await settle(replica_b)
    found = await bars(
        client, admin, symbol=IF, start="2024-05-07T09:00:00Z", end="2024-05-07T09:01:00Z"
    )
    assert [(bar["datetime"], bar["volume"], bar["close"]) for bar in found] == [
        ("2024-05-07T09:00:00Z", "15", "3502")  # once, and not 30
    ]
