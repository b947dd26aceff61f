"""Pre-trade risk rules and the kill switch: stored, answered 201 `rejected` with a reason."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from backend.app.container import AppContainer
from backend.models.enums import UserRole
from backend.services.orders.risk import OrderRateLimiter
from tests.api.conftest import Account, MakeAccount
from tests.api.trading import quote, settle

IF = "IF2412.CFFEX"


def _rejections(reason: str) -> float:
    value = REGISTRY.get_sample_value("redfire_order_rejections_total", {"reason": reason})
    return value or 0.0


async def _admin(make_account: MakeAccount) -> Account:
    return await make_account(role=UserRole.ADMIN)


async def _set_risk(client: httpx.AsyncClient, admin: Account, **limits: Any) -> None:
    response = await client.put("/api/v1/admin/risk", json=limits, headers=admin.headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("limits", "order", "reason"),
    [
        ({"max_order_quantity": 5}, {"order_type": "market", "quantity": 6}, "max_order_quantity"),
        # 3 * 3500.0 * 300 = 3,150,000 > 3,000,000
        (
            {"max_order_notional": 3_000_000},
            {"order_type": "limit", "quantity": 3, "price": "3500.0"},
            "max_order_notional",
        ),
        # market orders are measured at the last price
        (
            {"max_order_notional": 3_000_000},
            {"order_type": "market", "quantity": 3},
            "max_order_notional",
        ),
        # 10 % band around 3500: 3150..3850
        (
            {"price_band_pct": 10},
            {"order_type": "limit", "quantity": 1, "price": "3851.0"},
            "price_band",
        ),
        (
            {"price_band_pct": 10},
            {"order_type": "limit", "quantity": 1, "price": "3149.8"},
            "price_band",
        ),
        # A buy stop under the market triggers at once: valued at the market, not at 0.2.
        # 1000 * 3500.0 * 300 = 1,050,000,000 > the default 100,000,000.
        ({}, {"order_type": "stop", "quantity": "1000", "price": "0.2"}, "max_order_notional"),
        (
            {"max_order_notional": 3_000_000},
            {"order_type": "stop", "quantity": 3, "price": "0.2"},
            "max_order_notional",
        ),
        # Above the market it rests, and trades at its stop or higher: valued at the stop.
        # 2 * 5000.0 * 300 = 3,000,000 > 2,500,000 (at the last price it would be 2,100,000).
        (
            {"max_order_notional": 2_500_000, "price_band_pct": 50},
            {"order_type": "stop", "quantity": 2, "price": "5000.0"},
            "max_order_notional",
        ),
        # A stop that rests far from the market is held to the band like a limit.
        (
            {"price_band_pct": 10},
            {"order_type": "stop", "quantity": 1, "price": "3851.0"},
            "price_band",
        ),
        (
            {"price_band_pct": 10},
            {"order_type": "stop", "side": "SELL", "quantity": 1, "price": "3149.8"},
            "price_band",
        ),
    ],
)
async def test_limit_breaches_are_stored_as_rejected(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    limits: dict[str, Any],
    order: dict[str, Any],
    reason: str,
) -> None:
    trader, admin = await make_account(), await _admin(make_account)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    await _set_risk(client, admin, **limits)
    before = _rejections(reason)
    body = {"symbol": IF, "side": "BUY", **order}
    response = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["reject_reason"]) == ("rejected", reason)
    stored = await client.get(f"/api/v1/orders/{response.json()['id']}", headers=trader.headers)
    assert stored.json()["status"] == "rejected"
    assert _rejections(reason) == before + 1


@pytest.mark.parametrize(
    ("side", "price"),
    # Through the market (a buy stop at or under the ask, a sell stop at or over the bid):
    # a market order, however far from the last price.
    [("BUY", "0.2"), ("BUY", "3500.2"), ("SELL", "9000.0"), ("SELL", "3500.0")],
)
async def test_a_stop_through_the_market_trades_at_once_outside_the_band(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    side: str,
    price: str,
) -> None:
    trader, admin = await make_account(), await _admin(make_account)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    await _set_risk(client, admin, price_band_pct=10)
    body = {"symbol": IF, "side": side, "order_type": "stop", "quantity": 1, "price": price}
    response = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert response.json()["reject_reason"] is None, response.text
    await settle(container)
    order = await client.get(f"/api/v1/orders/{response.json()['id']}", headers=trader.headers)
    assert order.json()["status"] == "filled"
    expected = "3500.2" if side == "BUY" else "3500.0"  # at the touch, as a market order
    assert Decimal(order.json()["avg_fill_price"]) == Decimal(expected)


async def test_within_the_band_passes(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, admin = await make_account(), await _admin(make_account)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    await _set_risk(client, admin, price_band_pct=10)
    body = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3850.0"}
    response = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert response.json()["status"] != "rejected"


async def test_max_open_orders(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, admin = await make_account(), await _admin(make_account)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    await _set_risk(client, admin, max_open_orders=2)
    body = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3400"}
    statuses = [
        (await client.post("/api/v1/orders", json=body, headers=trader.headers)).json()
        for _ in range(3)
    ]
    assert [s["status"] for s in statuses] == ["submitted", "submitted", "rejected"]
    assert statuses[2]["reject_reason"] == "max_open_orders"
    # Another trader has their own allowance.
    other = await make_account()
    response = await client.post("/api/v1/orders", json=body, headers=other.headers)
    assert response.json()["status"] == "submitted"


async def test_max_orders_per_second(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, admin = await make_account(), await _admin(make_account)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    await _set_risk(client, admin, max_orders_per_second=3)
    body = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3400"}
    reasons = [
        (await client.post("/api/v1/orders", json=body, headers=trader.headers)).json()[
            "reject_reason"
        ]
        for _ in range(8)
    ]
    # At most 3 per second pass; a second boundary may fall inside the burst, never 2 of them.
    passed = reasons.count(None)
    assert 3 <= passed <= 6
    assert set(reasons) == {None, "max_orders_per_second"}


async def test_kill_switch_rejects_everything_until_resumed(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, admin = await make_account(), await _admin(make_account)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    halted = await client.post(
        "/api/v1/admin/halt", json={"reason": "exchange outage"}, headers=admin.headers
    )
    assert halted.status_code == 200
    assert halted.json()["trading_halted"] is True
    body = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 1}
    response = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert (response.json()["status"], response.json()["reject_reason"]) == (
        "rejected",
        "trading_halted",
    )
    risk = (await client.get("/api/v1/admin/risk", headers=admin.headers)).json()
    assert (risk["trading_halted"], risk["halted_reason"]) == (True, "exchange outage")
    resumed = await client.post("/api/v1/admin/resume", headers=admin.headers)
    assert resumed.json()["trading_halted"] is False
    response = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert response.json()["status"] in ("submitted", "filled")


async def test_admin_routes_are_admin_only(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    for method, path in (
        ("GET", "/risk"),
        ("PUT", "/risk"),
        ("POST", "/halt"),
        ("POST", "/resume"),
    ):
        response = await client.request(
            method,
            f"/api/v1/admin{path}",
            json={} if method == "PUT" else None,
            headers=trader.headers,
        )
        assert response.status_code == 403, path
        assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    "limits",
    [
        {"max_order_quantity": 0},
        {"max_open_orders": -1},
        {"price_band_pct": "NaN"},
        {"unknown": 1},
        {"max_order_notional": "1e40"},
    ],
)
async def test_bad_risk_limits_are_422_and_change_nothing(
    client: httpx.AsyncClient, make_account: MakeAccount, limits: dict[str, Any]
) -> None:
    admin = await _admin(make_account)
    before = (await client.get("/api/v1/admin/risk", headers=admin.headers)).json()
    response = await client.put("/api/v1/admin/risk", json=limits, headers=admin.headers)
    assert response.status_code == 422
    assert (await client.get("/api/v1/admin/risk", headers=admin.headers)).json() == before


async def test_the_answer_to_a_limit_change_is_the_limits_as_stored(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await _admin(make_account)
    changed = {"price_band_pct": "2.5", "max_order_quantity": 7}
    response = await client.put("/api/v1/admin/risk", json=changed, headers=admin.headers)
    assert response.status_code == 200
    assert response.json()["price_band_pct"] == "2.50000000"
    assert response.json()["max_order_quantity"] == "7.00000000"
    assert (await client.get("/api/v1/admin/risk", headers=admin.headers)).json() == response.json()


async def test_a_retried_key_is_not_counted_towards_the_order_rate(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """Orders are counted while the booking reads the books, before it knows which keys are
    retries; an answered retry's count is taken back: the second's count is of new orders."""
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    body = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3400"}
    rates = OrderRateLimiter(container.cache)
    for attempt in range(10):  # the count is per second: the whole exchange within one
        second = int(time.time())
        headers = {**trader.headers, "Idempotency-Key": f"rate-retry-{attempt}"}
        first = await client.post("/api/v1/orders", json=body, headers=headers)
        retries = [await client.post("/api/v1/orders", json=body, headers=headers) for _ in "ab"]
        counted = await rates.hit(trader.id, 0)
        if int(time.time()) == second:
            break
    else:
        pytest.fail("no attempt fitted in one second")
    assert [r.json()["id"] for r in retries] == [first.json()["id"]] * 2  # answered: replays
    assert counted == 1


def _arrivals(status: str, side: str) -> float:
    labels = {"status": status, "side": side}
    return REGISTRY.get_sample_value("redfire_orders_total", labels) or 0.0


async def test_each_order_of_a_batch_is_counted_at_each_status_it_reaches(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """The order metrics count per (status, side), a batch's orders added at once."""
    trader, admin = await make_account(), await _admin(make_account)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    await _set_risk(client, admin, max_open_orders=2)
    counted = [
        (status, side)
        for status in ("pending", "submitted", "rejected")
        for side in ("BUY", "SELL")
    ]
    before = {key: _arrivals(*key) for key in counted}
    rejections = _rejections("max_open_orders")
    buy = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3400"}
    placed = await asyncio.gather(
        *(client.post("/api/v1/orders", json=buy, headers=trader.headers) for _ in range(4))
    )
    assert sorted(r.json()["status"] for r in placed) == ["rejected"] * 2 + ["submitted"] * 2
    sell = {**buy, "side": "SELL", "price": "3600"}
    other = await make_account()
    response = await client.post("/api/v1/orders", json=sell, headers=other.headers)
    assert response.json()["status"] == "submitted"
    added = {key: _arrivals(*key) - before[key] for key in counted}
    assert added == {
        ("pending", "BUY"): 4,
        ("pending", "SELL"): 1,
        ("submitted", "BUY"): 2,
        ("submitted", "SELL"): 1,
        ("rejected", "BUY"): 2,
        ("rejected", "SELL"): 0,
    }
    assert _rejections("max_open_orders") - rejections == 2
