"""A replaced pod: killed, and followed by a replica under another name (Kubernetes' way).

The killed replica's own start-up reconciliation never runs, so a live replica settles its
open orders once its heartbeats have stopped.
"""

from __future__ import annotations

import signal

import httpx

from tests.reliability.conftest import Services
from tests.reliability.support import (
    ServerProcess,
    limit_order,
    requires_services,
    trader_headers,
    wait_until,
)

pytestmark = requires_services
# Seconds, not the production 10 / 60: the test waits for a departure.
FAST_HEARTBEATS = {"REPLICAS__HEARTBEAT_SECONDS": "0.2", "REPLICAS__DEPARTED_AFTER_SECONDS": "1"}


async def test_a_live_replica_settles_the_open_orders_of_a_killed_pod(
    services: Services, servers: list[ServerProcess]
) -> None:
    old_pod = services.server("redfire-7d4f9-abcde", **FAST_HEARTBEATS)
    survivor = services.server("redfire-7d4f9-fghij", **FAST_HEARTBEATS)
    servers.extend([old_pod, survivor])
    old_pod.start()
    survivor.start()
    await old_pod.wait_ready()
    await survivor.wait_ready()
    async with httpx.AsyncClient(base_url=old_pod.base_url, timeout=10) as http:
        headers = await trader_headers(http, "pod-trader")
        placed = await http.post("/api/v1/orders", json=limit_order(), headers=headers)
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "submitted"  # resting in the old pod's paper book

    old_pod.signal(signal.SIGKILL)
    assert await old_pod.wait_exit(within=10) == -signal.SIGKILL

    async with httpx.AsyncClient(base_url=survivor.base_url, timeout=10) as http:

        async def settled() -> bool:
            order = await http.get(f"/api/v1/orders/{placed.json()['id']}", headers=headers)
            return bool(order.json()["status"] == "rejected")

        waited = await wait_until(settled, within=20, what="the old pod's order settled")
        order = (await http.get(f"/api/v1/orders/{placed.json()['id']}", headers=headers)).json()
        metrics = (await http.get("/metrics")).text
    assert order["reject_reason"] == "lost_on_restart"
    # Not before the old pod counts as departed: 1 s after its last beat (at most 0.2 s
    # before the kill).
    assert waited >= 0.5
    assert "redfire_departed_replicas_total 1.0" in metrics
