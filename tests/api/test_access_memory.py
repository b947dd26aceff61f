"""AccessGuard remembers the tokens it checked; revocations and epochs bound that memory.

The order endpoints check tokens through AccessGuard. After one cache round trip it answers
a token from process memory, until an invalidation for its user arrives (every revocation and
access change publishes one) or, with Redis, until the invalidation channel drops.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from backend.app.container import AppContainer
from backend.core.errors import AuthenticationError
from backend.core.security.revocation import session_key, user_invalidation
from tests.api.conftest import MakeAccount

ORDERS = "/api/v1/orders"


async def test_a_checked_token_is_remembered_until_its_user_is_invalidated(
    container: AppContainer, make_account: MakeAccount
) -> None:
    account = await make_account()
    access = container.access
    assert await container.revocations.reload() >= 0  # the cache holds every revocation
    claims = (await access.principal(account.access_token)).claims
    # A revocation mark written behind the guard's back (no invalidation published) is not
    # read: the token is answered from memory, without a cache round trip.
    assert await container.cache.set(session_key(claims.session_id), 1, ttl=60)
    assert (await access.principal(account.access_token)).user_id == account.id

    await container.security.invalidations.publish(user_invalidation(account.id))
    with pytest.raises(AuthenticationError) as refused:
        await access.principal(account.access_token)
    assert refused.value.code == "token_revoked"


async def test_another_users_invalidation_leaves_a_token_remembered(
    container: AppContainer, make_account: MakeAccount
) -> None:
    account, other = await make_account(), await make_account()
    assert await container.revocations.reload() >= 0
    claims = (await container.access.principal(account.access_token)).claims
    assert await container.cache.set(session_key(claims.session_id), 1, ttl=60)
    await container.security.invalidations.publish(user_invalidation(other.id))
    assert (await container.access.principal(account.access_token)).user_id == account.id


async def test_logout_ends_order_access_at_once(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    assert (await client.get(ORDERS, headers=account.headers)).status_code == 200  # remembered
    assert (await client.post("/api/v1/auth/logout", headers=account.headers)).status_code == 204
    refused = await client.get(ORDERS, headers=account.headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "token_revoked"


async def test_a_replayed_refresh_token_ends_order_access_of_its_session(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    assert (await client.get(ORDERS, headers=account.headers)).status_code == 200  # remembered
    body = {"refresh_token": account.refresh_token}
    assert (await client.post("/api/v1/auth/refresh", json=body)).status_code == 200
    assert (await stranger.post("/api/v1/auth/refresh", json=body)).status_code == 401  # replay
    refused = await client.get(ORDERS, headers=account.headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "token_revoked"


async def test_nothing_remembered_is_trusted_while_invalidations_could_be_missed(
    container: AppContainer, make_account: MakeAccount
) -> None:
    invalidations = container.security.invalidations
    if not container.messaging.shared:
        pytest.skip("in process no invalidation can be missed; needs TEST_REDIS_URL")
    account = await make_account()
    assert await container.revocations.reload() >= 0
    claims = (await container.access.principal(account.access_token)).claims  # remembered
    await invalidations.stop()  # as when the channel drops: no epoch is current
    try:
        assert await container.cache.set(session_key(claims.session_id), 1, ttl=60)
        with pytest.raises(AuthenticationError):
            await container.access.principal(account.access_token)
    finally:
        await invalidations.start()
        await asyncio.wait_for(invalidations.listening.wait(), 5)
