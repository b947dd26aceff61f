"""Faults: Redis, PostgreSQL and the gateway go away and come back; no restart in between.

The application runs in-process, talking to PostgreSQL and Redis through TCP proxies the test
owns: `cut()` drops every connection and refuses new ones, `restore()` lets them in again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx

from backend.models.enums import UserRole
from backend.services.users import UserService
from tests.reliability.conftest import FaultRig
from tests.reliability.support import (
    PASSWORD,
    limit_order,
    login,
    requires_services,
    wait_until,
)

pytestmark = requires_services
# A request may take this long while a dependency is down, never more.
FAIL_FAST_SECONDS = 3.0
RECOVERY_SECONDS = 15.0


async def timed(request: Callable[[], object]) -> tuple[httpx.Response, float]:
    """Run a request coroutine factory; its response and seconds taken."""
    started = time.monotonic()
    response = await request()  # type: ignore[misc]
    assert isinstance(response, httpx.Response)
    return response, time.monotonic() - started


async def health(http: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    """/health's status code and body."""
    response = await http.get("/health")
    return response.status_code, response.json()


async def test_redis_down_degrades_and_recovers_without_restart(rig: FaultRig) -> None:
    http = rig.http
    await rig.redis.cut()

    response, took = await timed(
        lambda: http.post("/api/v1/orders", json=limit_order(), headers=rig.headers)
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "submitted"
    assert took < FAIL_FAST_SECONDS
    status, body = await health(http)
    assert status == 200
    assert body["status"] == "degraded", body
    services = body["services"]
    assert isinstance(services, dict)
    assert services["redis"]["status"] == "unhealthy"
    assert services["database"]["status"] == "healthy"
    assert (await http.get("/health/live")).status_code == 200
    assert (await http.get("/health/ready")).status_code == 200
    # Login rate limiting falls back to this process's memory: the sixth failure is 429.
    codes = [(await login(http, rig.username, "wrong-password")).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429], codes

    await rig.redis.restore()

    async def healthy() -> bool:
        return (await health(http))[1]["status"] == "healthy"

    recovered = await wait_until(healthy, within=RECOVERY_SECONDS, what="/health healthy")
    response = await http.post("/api/v1/orders", json=limit_order(), headers=rig.headers)
    assert response.status_code == 201
    assert response.json()["status"] == "submitted"
    # The shared cache is written again: the risk settings are back in Redis. (A pooled
    # connection that died with the cut may fail one command before it is replaced.)

    async def risk_settings_cached() -> bool:
        return await rig.container.cache.get("risk:settings") is not None

    await wait_until(risk_settings_cached, within=RECOVERY_SECONDS, what="risk settings cached")
    assert recovered < RECOVERY_SECONDS
    assert rig.redis.connections > 0  # the app really went through the proxy


async def _admin_headers(rig: FaultRig) -> dict[str, str]:
    username = f"fault-admin-{uuid.uuid4().hex[:8]}"
    async with rig.container.database.session() as session:
        await UserService(rig.container.security.passwords).create(
            session,
            username=username,
            email=f"{username}@example.com",
            password=PASSWORD,
            role=UserRole.ADMIN,
        )
    token = (await login(rig.http, username, PASSWORD)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def test_a_halt_acknowledged_while_redis_is_down_holds_when_it_returns(
    rig: FaultRig,
) -> None:
    """The cache still holds the limits from before the halt (it could not be told): they
    must not bring trading back, on this replica or any other, nor show in /admin/risk."""
    http, cache = rig.http, rig.container.cache
    admin = await _admin_headers(rig)
    placed = await http.post("/api/v1/orders", json=limit_order(), headers=rig.headers)
    assert placed.json()["status"] == "submitted", placed.text

    async def cached_trading() -> bool:
        cached = await cache.get("risk:settings")
        return cached is not None and cached["trading_halted"] is False

    await wait_until(cached_trading, within=RECOVERY_SECONDS, what="limits cached")
    await rig.redis.cut()
    try:
        halted = await http.post("/api/v1/admin/halt", json={"reason": "blip"}, headers=admin)
        assert halted.status_code == 200, halted.text
        assert halted.json()["trading_halted"] is True
        during = await http.post("/api/v1/orders", json=limit_order(), headers=rig.headers)
        assert during.json()["reject_reason"] == "trading_halted", during.text

        await rig.redis.restore()
        # Redis is back with the limits of before the halt, unexpired.
        await wait_until(cached_trading, within=RECOVERY_SECONDS, what="Redis answers again")
        for _ in range(3):
            after = await http.post("/api/v1/orders", json=limit_order(), headers=rig.headers)
            assert (after.json()["status"], after.json()["reject_reason"]) == (
                "rejected",
                "trading_halted",
            ), after.text
        risk = (await http.get("/api/v1/admin/risk", headers=admin)).json()
        assert (risk["trading_halted"], risk["halted_reason"]) == (True, "blip")
        # The booking put the committed limits back in the cache.
        assert (await cache.get("risk:settings"))["trading_halted"] is True
    finally:
        await rig.redis.restore()
        resumed = await http.post("/api/v1/admin/resume", headers=admin)
        assert resumed.json()["trading_halted"] is False


async def test_database_down_answers_503_and_recovers_without_restart(rig: FaultRig) -> None:
    http = rig.http
    await rig.database.cut()

    response, took = await timed(
        lambda: http.post("/api/v1/orders", json=limit_order(), headers=rig.headers)
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "database_unavailable"
    assert took < FAIL_FAST_SECONDS, took
    ready, took = await timed(lambda: http.get("/health/ready"))
    assert ready.status_code == 503
    assert took < FAIL_FAST_SECONDS
    status, body = await health(http)
    assert status == 503
    assert body["status"] == "unhealthy"
    assert (await http.get("/health/live")).status_code == 200
    listed, _ = await timed(lambda: http.get("/api/v1/orders", headers=rig.headers))
    assert listed.status_code == 503
    assert listed.json()["error"] == "database_unavailable"

    await rig.database.restore()

    async def ready_again() -> bool:
        return (await http.get("/health/ready")).status_code == 200

    await wait_until(ready_again, within=RECOVERY_SECONDS, what="/health/ready 200")
    response = await http.post("/api/v1/orders", json=limit_order(), headers=rig.headers)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "submitted"
    assert (await health(http))[1]["status"] == "healthy"
    assert rig.database.connections > 0


async def test_gateway_disconnect_rejects_orders_and_reconnect_is_picked_up(
    rig: FaultRig,
) -> None:
    http = rig.http
    gateway = rig.container.trading.market.paper_gateway()
    gateway.set_connected(False)
    try:
        response = await http.post("/api/v1/orders", json=limit_order(), headers=rig.headers)
        assert response.status_code == 201, response.text
        order = response.json()
        assert order["status"] == "rejected"
        assert order["reject_reason"] == "gateway_error: gateway PAPER is disconnected"
        status, body = await health(http)
        services = body["services"]
        assert isinstance(services, dict)
        assert status == 200
        assert body["status"] == "degraded"
        assert services["gateway"]["status"] == "unhealthy"
    finally:
        gateway.set_connected(True)

    response = await http.post("/api/v1/orders", json=limit_order(), headers=rig.headers)
    assert response.status_code == 201
    assert response.json()["status"] == "submitted"
    assert (await health(http))[1]["status"] == "healthy"
