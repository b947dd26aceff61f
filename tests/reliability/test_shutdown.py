"""Graceful shutdown: SIGTERM drains in-flight requests, stops every component, exits 0."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time

import httpx
import redis.asyncio as redis

from tests.reliability.conftest import Services
from tests.reliability.support import (
    ADMIN,
    PASSWORD,
    ServerProcess,
    limit_order,
    login,
    requires_services,
    trader_headers,
    wait_until,
)

pytestmark = requires_services
GRACE_SECONDS = 10
LOGINS = 8
ORDERS = 8
# Production password hashing (Argon2id t=3, m=64 MiB): each login is slow, as in real life.
PRODUCTION_HASHING = {
    "SECURITY__ARGON2_TIME_COST": "3",
    "SECURITY__ARGON2_MEMORY_COST": "65536",
    "SECURITY__ARGON2_PARALLELISM": "4",
    "SECURITY__LOGIN_RATE_LIMIT": "100",
    "HOOK_TIMEOUT_SECONDS": str(GRACE_SECONDS),
}
IN_PROGRESS = re.compile(r'^redfire_http_requests_in_progress\{method="POST"\} (\S+)$', re.M)


async def posts_in_progress(http: httpx.AsyncClient) -> float:
    """The server's own count of POST requests being served."""
    match = IN_PROGRESS.search((await http.get("/metrics")).text)
    return float(match.group(1)) if match else 0.0


async def test_sigterm_drains_in_flight_requests_and_stops_cleanly(
    services: Services, servers: list[ServerProcess]
) -> None:
    server = services.server("graceful", **PRODUCTION_HASHING)
    servers.append(server)
    server.start()
    await server.wait_ready()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        headers = await trader_headers(http, "graceful-trader")
        admin = (await login(http, *ADMIN)).json()["access_token"]
        admin_headers = {"Authorization": f"Bearer {admin}"}
        strategy = await http.post(
            "/api/v1/strategies",
            json={"name": "ma", "class_name": "MovingAverageStrategy", "symbol": "IF2412.CFFEX"},
            headers=admin_headers,
        )
        strategy_id = strategy.json()["id"]
        started = await http.post(f"/api/v1/strategies/{strategy_id}/start", headers=admin_headers)
        assert started.status_code == 200
    lease = f"{services.redis_prefix}lease:strategy:{strategy_id}"
    store = redis.Redis.from_url(services.redis_url)
    try:
        assert await store.get(lease) == b"graceful"

        fresh = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=fresh) as http:
            requests = [
                *(login(http, "graceful-trader", PASSWORD) for _ in range(LOGINS)),
                *(
                    http.post("/api/v1/orders", json=limit_order(), headers=headers)
                    for _ in range(ORDERS)
                ),
            ]
            in_flight = asyncio.gather(*requests)

            async def all_in_flight() -> bool:
                return await posts_in_progress(http) >= LOGINS

            await wait_until(all_in_flight, within=10, what="logins in flight")
            server.signal(signal.SIGTERM)
            signalled = time.monotonic()
            responses = await asyncio.wait_for(in_flight, timeout=GRACE_SECONDS + 5)
        code = await server.wait_exit(within=GRACE_SECONDS + 5)
        took = time.monotonic() - signalled
        assert [r.status_code for r in responses] == [200] * LOGINS + [201] * ORDERS
        assert code == 0, server.log()[-2000:]
        assert took < GRACE_SECONDS + 2
        # The strategy was stopped here and handed its lease back instead of letting it expire.
        assert await store.get(lease) is None
    finally:
        await store.aclose()
    events = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    stopped = [event["hook"] for event in events if event["event"] == "component_stopped"]
    for hook in ("strategies", "vnpy", "order_events", "stream", "event_bus", "cache", "database"):
        assert hook in stopped, stopped
    assert stopped.index("strategies") < stopped.index("vnpy") < stopped.index("database")
    final = [event for event in events if event["event"] == "lifecycle_stopped"]
    assert final
    assert final[-1]["failed_hooks"] == 0
    print(f"\ngraceful: {len(responses)} in-flight requests all answered; exit 0 in {took:.2f} s")
