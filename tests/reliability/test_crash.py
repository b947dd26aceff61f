"""Crash safety: SIGKILL the server under an order stream, restart it, and audit the books."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.reliability.conftest import Services
from tests.reliability.support import (
    ServerProcess,
    limit_order,
    requires_services,
    trader_headers,
    wait_until,
)

pytestmark = requires_services
WORKERS = 20
ACCEPTED_BEFORE_KILL = 150
# Limits out of the stream's way; the account funded for every order it places.
LIMITS = {
    "RISK__MAX_ORDERS_PER_SECOND": "100000",
    "RISK__MAX_OPEN_ORDERS": "100000",
    "RISK__PAPER_INITIAL_BALANCE": "1000000000000",
}


@dataclass
class LoadRecord:
    """What the client saw: 201 bodies by key, and keys whose request died with the server."""

    accepted: dict[str, dict[str, object]] = field(default_factory=dict)
    in_flight: list[str] = field(default_factory=list)
    other: Counter[int] = field(default_factory=Counter)


async def order_stream(
    http: httpx.AsyncClient, headers: dict[str, str], record: LoadRecord, stop: asyncio.Event
) -> None:
    """One load worker: keyed limit orders back to back until told to stop or the server dies."""
    while not stop.is_set():
        key = uuid.uuid4().hex
        try:
            response = await http.post(
                "/api/v1/orders",
                json=limit_order(),
                headers={**headers, "Idempotency-Key": key},
            )
        except httpx.TransportError:
            record.in_flight.append(key)
            return
        if response.status_code == 201:
            record.accepted[key] = response.json()
        else:
            record.other[response.status_code] += 1


async def audit(database_url: str) -> list[dict[str, object]]:
    """Every order row, as the database has it."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT id, client_order_id, status, reject_reason, vt_orderid, replica "
                    "FROM orders"
                )
            )
            return [dict(row._mapping) for row in rows]
    finally:
        await engine.dispose()


async def test_sigkill_mid_stream_loses_and_duplicates_nothing(
    services: Services, servers: list[ServerProcess]
) -> None:
    server = services.server("crash-replica", **LIMITS)
    servers.append(server)
    server.start()
    await server.wait_ready()
    record = LoadRecord()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=WORKERS)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, limits=limits) as http:
        headers = await trader_headers(http, "crash-trader")
        workers = [
            asyncio.create_task(order_stream(http, headers, record, stop)) for _ in range(WORKERS)
        ]

        async def enough() -> bool:
            return len(record.accepted) >= ACCEPTED_BEFORE_KILL

        await wait_until(enough, within=30, what=f"{ACCEPTED_BEFORE_KILL} orders accepted")
        server.signal(signal.SIGKILL)
        assert await server.wait_exit(within=10) == -signal.SIGKILL
        stop.set()
        await asyncio.wait_for(asyncio.gather(*workers), timeout=15)

    restarted = services.server("crash-replica", **LIMITS)
    servers.append(restarted)
    restarted.start()
    await restarted.wait_ready()

    rows = await audit(services.database_url)
    by_id = {row["id"]: row for row in rows}
    accepted_ids = [body["id"] for body in record.accepted.values()]
    assert not record.other, record.other
    # Every 201 exists, none twice, and no client order id is reused.
    assert len(set(accepted_ids)) == len(accepted_ids)
    assert all(order_id in by_id for order_id in accepted_ids)
    client_ids = Counter(row["client_order_id"] for row in rows)
    assert max(client_ids.values()) == 1
    # Nothing is left open without a gateway order: PAPER's book died with the process.
    statuses = Counter(row["status"] for row in rows)
    assert statuses["pending"] == statuses["submitted"] == statuses["partially_filled"] == 0
    assert {row["reject_reason"] for row in rows} == {"lost_on_restart"}, statuses
    unanswered = len(rows) - len(accepted_ids)
    assert 0 <= unanswered <= len(record.in_flight)

    retried = await retry_in_flight(restarted, headers, record.in_flight, set(by_id))
    print(
        f"\ncrash audit: {len(record.accepted)} orders answered 201 before SIGKILL, "
        f"{len(rows)} rows after restart ({unanswered} committed but unanswered), "
        f"{len(record.in_flight)} requests in flight; all {len(rows)} rejected lost_on_restart, "
        f"0 duplicated, 0 pending/submitted; in-flight key retries: {dict(retried)}"
    )
    # A retried key creates its order now (its first attempt never committed) or replays the
    # order its first attempt committed, as reconciled; it never makes a second order and is
    # never left "in progress".
    after = await audit(services.database_url)
    assert len(after) == len(rows) + retried["created"]
    assert set(retried) <= {"created", "replayed"}, retried


async def retry_in_flight(
    server: ServerProcess, headers: dict[str, str], keys: list[str], known: set[object]
) -> Counter[str]:
    """Send each crashed request again with its key; count what happened."""
    answers: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        for key in keys:
            response = await http.post(
                "/api/v1/orders", json=limit_order(), headers={**headers, "Idempotency-Key": key}
            )
            if response.status_code == 201:
                answers["replayed" if response.json()["id"] in known else "created"] += 1
            elif response.json().get("error") == "idempotency_in_progress":
                answers["in_progress"] += 1
            else:
                answers[f"{response.status_code} {response.text[:80]}"] += 1
    return answers
