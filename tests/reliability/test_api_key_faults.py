"""API keys while Redis is unreachable: revocation holds at once, and guessing stays limited.

The app runs on PostgreSQL and Redis through proxies the test owns (conftest.rig): `cut()`
refuses connections as a killed Redis does, `pause()` leaves them open and unanswered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.reliability.conftest import FaultRig
from tests.reliability.support import limit_order, requires_services

pytestmark = requires_services
OUTAGES = ["killed", "paused"]
ORDERS = "/api/v1/orders"


@asynccontextmanager
async def redis_unreachable(rig: FaultRig, outage: str) -> AsyncIterator[None]:
    """Redis killed (connections refused) or paused (connections hang) until the block ends."""
    if outage == "killed":
        await rig.redis.cut()
    else:
        rig.redis.pause()
    try:
        yield
    finally:
        if outage == "killed":
            await rig.redis.restore()
        else:
            rig.redis.resume()


async def _key(rig: FaultRig, *scopes: str) -> dict[str, Any]:
    body = {"name": "bot", "scopes": list(scopes)}
    response = await rig.http.post("/api/v1/api-keys", json=body, headers=rig.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.parametrize("outage", OUTAGES)
async def test_a_key_revoked_while_redis_is_away_is_refused_at_once_and_after(
    rig: FaultRig, outage: str
) -> None:
    created = await _key(rig, "trade")
    key = {"X-API-Key": created["key"]}
    assert (await rig.http.get(ORDERS, headers=key)).status_code == 200  # remembered
    async with redis_unreachable(rig, outage):
        revoke = await rig.http.delete(f"/api/v1/api-keys/{created['id']}", headers=rig.headers)
        assert revoke.status_code == 204
        assert (await rig.http.get(ORDERS, headers=key)).status_code == 401
        assert (await rig.http.post(ORDERS, json=limit_order(), headers=key)).status_code == 401
    assert (await rig.http.get(ORDERS, headers=key)).status_code == 401


@pytest.mark.parametrize("outage", OUTAGES)
async def test_guessing_keys_stays_limited_while_redis_is_away(rig: FaultRig, outage: str) -> None:
    right = {"X-API-Key": (await _key(rig, "read"))["key"]}
    limit = rig.container.config.security.api_key_failure_limit
    async with redis_unreachable(rig, outage):
        for attempt in range(limit):
            guess = {"X-API-Key": f"rfk_{attempt:016x}_" + "g" * 43}
            assert (await rig.http.get(ORDERS, headers=guess)).status_code == 401
        refused = await rig.http.get(ORDERS, headers=right)
        assert refused.status_code == 429
