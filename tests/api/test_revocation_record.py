"""Revocations are recorded in the database; the cache only holds a copy of them.

Emptying the cache (as a Redis restart does) must neither revive a logged-out session nor
let a spent refresh token be exchanged again; the copy is rebuilt from the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from backend.app.container import AppContainer
from backend.core.database.base import utcnow
from backend.core.security.revocation import MIRRORED_KEY, session_key
from backend.models.order import Order
from backend.models.revocation import RevokedSession, UsedRefreshToken
from tests.api.conftest import MakeAccount
from tests.api.stream import serve, ws_client
from tests.reliability.support import limit_order, wait_until

ORDERS = "/api/v1/orders"
ME = "/api/v1/users/me"
REFRESH = "/api/v1/auth/refresh"
POLICY_VIOLATION = 1008


@pytest.fixture
async def ws_url(app: FastAPI) -> AsyncIterator[str]:
    """The session app served by uvicorn on loopback."""
    async with serve(app) as url:
        yield url


async def orders_of(container: AppContainer, user_id: int) -> int:
    """How many orders the user has stored."""
    async with container.database.session() as session:
        statement = select(func.count()).select_from(Order).where(Order.user_id == user_id)
        return int(await session.scalar(statement) or 0)


async def test_a_logged_out_session_stays_revoked_when_the_cache_is_emptied(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount, ws_url: str
) -> None:
    account = await make_account()
    assert (await client.get(ORDERS, headers=account.headers)).status_code == 200  # remembered
    assert (await client.post("/api/v1/auth/logout", headers=account.headers)).status_code == 204
    await container.cache.clear()  # Redis restarted empty: no mark, no copy

    for answer in (
        await client.get(ORDERS, headers=account.headers),
        await client.get(ME, headers=account.headers),
        await client.post(ORDERS, json=limit_order(), headers=account.headers),
        await client.post(REFRESH, json={"refresh_token": account.refresh_token}),
    ):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "token_revoked"
    assert await orders_of(container, account.id) == 0
    async with ws_client(ws_url, token=account.access_token) as ws:
        assert await ws.close_code() == POLICY_VIOLATION


async def test_the_copy_in_the_cache_is_rebuilt_from_the_database(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    account = await make_account()
    assert (await client.post("/api/v1/auth/logout", headers=account.headers)).status_code == 204
    async with container.database.session() as session:
        (session_id,) = (await session.scalars(select(RevokedSession.session_id))).all()
    await container.cache.clear()
    # The first check that finds the copy missing asks for it to be rebuilt.
    assert (await client.get(ORDERS, headers=account.headers)).status_code == 401

    async def rebuilt() -> bool:
        marks = await container.cache.get_many(session_key(session_id), MIRRORED_KEY)
        return marks == [1, 1]

    await wait_until(rebuilt, within=5, what="the revocation copied back into the cache")
    assert (await client.get(ORDERS, headers=account.headers)).status_code == 401


async def test_refresh_reuse_is_detected_after_the_cache_is_emptied(
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
) -> None:
    account = await make_account()
    rotated = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert rotated.status_code == 200
    await container.cache.clear()
    # The same client's retry still gets the same pair; anyone else's replay is a leak.
    retried = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert retried.json() == rotated.json()
    replayed = await stranger.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "token_revoked"
    headers = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
    assert (await client.get(ORDERS, headers=headers)).status_code == 401


async def test_expired_revocations_are_purged(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    old, current = await make_account(), await make_account()
    for account in (old, current):
        body = {"refresh_token": account.refresh_token}
        assert (await client.post(REFRESH, json=body)).status_code == 200
        assert (await client.post("/api/v1/auth/logout", headers=account.headers)).status_code
    past = utcnow() - timedelta(seconds=1)
    async with container.database.session() as session:
        for model in (RevokedSession, UsedRefreshToken):
            row = (await session.scalars(select(model).where(model.user_id == old.id))).one()
            row.expires_at = past
    assert await container.revocations.purge() == 2
    async with container.database.session() as session:
        for model in (RevokedSession, UsedRefreshToken):
            users = (await session.scalars(select(model.user_id))).all()
            assert users == [current.id]
