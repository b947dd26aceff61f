"""API keys across replicas: a revocation or an owner's change made on one replica stops the
key on every other within a second, although each remembers the keys it checked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from backend.core.config import AppConfig
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.keys import create_key, key_headers
from tests.api.stream import WAIT, container_of, serve, started_app, ws_client
from tests.conftest import TEST_REDIS_URL
from tests.reliability.support import wait_until

pytestmark = pytest.mark.skipif(
    TEST_REDIS_URL is None, reason="replicas share invalidations through Redis"
)
ORDERS = "/api/v1/orders"
POLICY_VIOLATION = 1008
WITHIN = 1.0


@asynccontextmanager
async def replica_b(make_config: Callable[..., AppConfig]) -> AsyncIterator[FastAPI]:
    """Another replica on the same database and Redis, listening for invalidations."""
    async with started_app(make_config, replica_id="replica-b") as other:
        invalidations = container_of(other).security.invalidations
        await asyncio.wait_for(invalidations.listening.wait(), WAIT)
        yield other


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _refused_within(http: httpx.AsyncClient, headers: dict[str, str]) -> float:
    async def refused() -> bool:
        return (await http.get(ORDERS, headers=headers)).status_code == 401

    return await wait_until(refused, within=WITHIN, interval=0.01, what="the key refused")


async def test_a_key_revoked_on_one_replica_is_401_on_another_within_a_second(
    client: httpx.AsyncClient, make_account: MakeAccount, make_config: Callable[..., AppConfig]
) -> None:
    trader = await make_account()
    created = await create_key(client, trader, "trade")
    headers = key_headers(created)
    async with replica_b(make_config) as other, client_of(other) as b:
        for _ in range(2):  # checked, then answered from B's memory
            assert (await b.get(ORDERS, headers=headers)).status_code == 200
        revoked = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=trader.headers)
        assert revoked.status_code == 204  # on replica A
        await _refused_within(b, headers)
        refused = await b.post(ORDERS, json={"symbol": "IF2412.CFFEX"}, headers=headers)
        assert refused.status_code == 401


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": "viewer"}])
async def test_an_owner_changed_on_one_replica_loses_the_key_on_another_within_a_second(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    make_config: Callable[..., AppConfig],
    change: dict[str, object],
) -> None:
    trader, admin = await make_account(), await make_account(role=UserRole.ADMIN)
    headers = key_headers(await create_key(client, trader, "trade"))
    async with replica_b(make_config) as other, client_of(other) as b:
        assert (await b.get(ORDERS, headers=headers)).status_code == 200
        path = f"/api/v1/users/{trader.id}"
        assert (await client.patch(path, json=change, headers=admin.headers)).status_code == 200
        await _refused_within(b, headers)


async def test_a_key_revoked_on_one_replica_closes_its_stream_on_another(
    client: httpx.AsyncClient, make_account: MakeAccount, make_config: Callable[..., AppConfig]
) -> None:
    trader = await make_account()
    created = await create_key(client, trader, "read")
    headers = key_headers(created)
    async with (
        replica_b(make_config) as other,
        serve(other) as url,
        ws_client(url, additional_headers=headers) as ws,
    ):
        assert (await ws.subscribe("order"))["topic"] == "subscribed"
        path = f"/api/v1/api-keys/{created['id']}"
        assert (await client.delete(path, headers=trader.headers)).status_code == 204
        assert await ws.close_code(wait=WITHIN) == POLICY_VIOLATION
