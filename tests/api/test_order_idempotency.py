"""Idempotency-Key: replay, reuse with another body, in-flight, and concurrent retries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from backend.app.container import AppContainer
from backend.models.control import IdempotencyKey
from backend.models.order import Order
from backend.services.orders.maintenance import ExpiredKeyPurger
from tests.api.conftest import MakeAccount
from tests.api.trading import quote

IF = "IF2412.CFFEX"
LIMIT = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3400"}


def _purged() -> float:
    return REGISTRY.get_sample_value("redfire_idempotency_keys_purged_total") or 0.0


async def _orders(container: AppContainer) -> int:
    async with container.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


async def test_same_key_same_body_replays_the_first_answer(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0")
    headers = {**trader.headers, "Idempotency-Key": "order-1"}
    first = await client.post("/api/v1/orders", json=LIMIT, headers=headers)
    second = await client.post("/api/v1/orders", json=LIMIT, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert await _orders(container) == 1


async def test_numbers_and_decimal_strings_are_the_same_body(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0")
    headers = {**trader.headers, "Idempotency-Key": "order-2"}
    first = await client.post("/api/v1/orders", json=LIMIT, headers=headers)
    as_numbers = {**LIMIT, "quantity": 1.0, "price": 3400}
    second = await client.post("/api/v1/orders", json=as_numbers, headers=headers)
    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]


async def test_same_key_other_body_is_422(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0")
    headers = {**trader.headers, "Idempotency-Key": "order-3"}
    assert (await client.post("/api/v1/orders", json=LIMIT, headers=headers)).status_code == 201
    other = {**LIMIT, "price": "3401.0"}
    response = await client.post("/api/v1/orders", json=other, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    assert await _orders(container) == 1


async def test_keys_are_per_user(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await quote(container, IF, last="3500.0")
    for account in (alice, bob):
        headers = {**account.headers, "Idempotency-Key": "shared-key"}
        assert (await client.post("/api/v1/orders", json=LIMIT, headers=headers)).status_code == 201
    assert await _orders(container) == 2


async def test_retry_while_in_flight_is_409(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0")
    market = container.trading.market
    entered, release = asyncio.Event(), asyncio.Event()
    original = market.submit_order

    async def slow_submit(*args: object, **kwargs: object) -> str:
        entered.set()
        await release.wait()
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    market.submit_order = slow_submit  # type: ignore[method-assign]
    try:
        headers = {**trader.headers, "Idempotency-Key": "in-flight"}
        first = asyncio.create_task(client.post("/api/v1/orders", json=LIMIT, headers=headers))
        await asyncio.wait_for(entered.wait(), 5)
        retry = await client.post("/api/v1/orders", json=LIMIT, headers=headers)
        assert retry.status_code == 409
        assert retry.json()["error"] == "idempotency_in_progress"
        release.set()
        assert (await first).status_code == 201
    finally:
        del market.submit_order
    replay = await client.post("/api/v1/orders", json=LIMIT, headers=headers)
    assert replay.status_code == 201
    assert await _orders(container) == 1


async def test_fifty_concurrent_requests_with_one_key_create_one_order(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0")
    headers = {**trader.headers, "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/orders", json=LIMIT, headers=headers) for _ in range(50))
    )
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {201, 409}
    created = {response.json()["id"] for response in responses if response.status_code == 201}
    assert len(created) == 1
    assert await _orders(container) == 1


async def test_invalid_keys_are_422(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    for key in ("", "x" * 256, "tab\there"):
        headers = {**trader.headers, "Idempotency-Key": key}
        response = await client.post("/api/v1/orders", json=LIMIT, headers=headers)
        assert response.status_code == 422, key
    assert await _orders(container) == 0


async def test_an_expired_key_is_claimed_afresh(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """After 24 h a key is free again: another body makes a new order, not a 422."""
    trader = await make_account()
    await quote(container, IF, last="3500.0")
    headers = {**trader.headers, "Idempotency-Key": "yesterday"}
    first = await client.post("/api/v1/orders", json=LIMIT, headers=headers)
    assert first.status_code == 201
    async with container.database.session() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "yesterday")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    other = await client.post("/api/v1/orders", json={**LIMIT, "quantity": 2}, headers=headers)
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert other.json()["quantity"] == "2.00000000"
    replay = await client.post("/api/v1/orders", json={**LIMIT, "quantity": 2}, headers=headers)
    assert replay.json() == other.json()
    assert await _orders(container) == 2


async def test_expired_keys_are_purged_and_the_orders_stay(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0")
    for key in ("old-1", "old-2", "fresh"):
        headers = {**trader.headers, "Idempotency-Key": key}
        assert (await client.post("/api/v1/orders", json=LIMIT, headers=headers)).is_success
    async with container.database.session() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key.in_(["old-1", "old-2"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    purged_before = _purged()

    # One key per transaction: the batches loop until nothing expired is left.
    assert await ExpiredKeyPurger(container.database, batch=1).purge() == 2

    assert _purged() == purged_before + 2
    async with container.database.session() as session:
        assert set((await session.scalars(select(IdempotencyKey.key))).all()) == {"fresh"}
    assert await _orders(container) == 3
    assert await ExpiredKeyPurger(container.database).purge() == 0
