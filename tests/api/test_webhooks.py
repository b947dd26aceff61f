"""Webhooks: alerts become orders once, through the risk checks; bad senders store nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from backend.app.container import AppContainer
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.contract import assert_error_response, row_counts
from tests.api.webhooks import IF, alert, create_webhook, post_alert


@pytest.fixture
async def sender(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A charting tool: no login, its own address."""
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 443))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _deliveries(
    client: httpx.AsyncClient, headers: dict[str, str], webhook_id: int
) -> list[dict[str, object]]:
    response = await client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


@pytest.mark.parametrize("auth", ["secret", "signature"])
async def test_an_alert_delivered_twice_places_the_order_once(
    client: httpx.AsyncClient, sender: httpx.AsyncClient, make_account: MakeAccount, auth: str
) -> None:
    trader = await make_account()
    webhook = await create_webhook(client, trader, auth)
    first = await post_alert(sender, webhook, alert("tv-42"))
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "placed"
    again = await post_alert(sender, webhook, alert("tv-42"))
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "duplicate"
    assert again.json()["order_id"] == first.json()["order_id"]
    orders = (await client.get("/api/v1/orders", headers=trader.headers)).json()
    assert [order["id"] for order in orders["items"]] == [first.json()["order_id"]]
    assert orders["items"][0]["symbol"] == IF
    assert orders["items"][0]["side"] == "BUY"
    outcomes = [d["outcome"] for d in await _deliveries(client, trader.headers, webhook["id"])]
    assert outcomes == ["duplicate", "placed"]


async def test_a_limit_alert_places_a_limit_order_and_a_sell_sells(
    client: httpx.AsyncClient, sender: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    webhook = await create_webhook(client, trader, "signature")
    body = alert("tv-1", action="SELL", price="3600.2", quantity=2)
    placed = await post_alert(sender, webhook, body)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    order = (await client.get(f"/api/v1/orders/{order_id}", headers=trader.headers)).json()
    assert (order["order_type"], order["side"]) == ("limit", "SELL")
    assert (Decimal(order["price"]), Decimal(order["quantity"])) == (Decimal("3600.2"), 2)


@pytest.mark.parametrize(
    ("auth", "tamper"),
    [
        ("signature", {"X-Signature-256": "sha256=" + "0" * 64}),
        ("signature", {"X-Signature-256": ""}),
        ("signature", {"X-Signature-256": "sha256=zz\u00e9"}),
        ("secret", {"secret": "wrong"}),
        ("secret", {"secret": 12345}),
        ("secret", {}),
    ],
)
async def test_a_wrong_signature_or_secret_is_401_and_stores_nothing(
    client: httpx.AsyncClient,
    sender: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    auth: str,
    tamper: dict[str, object],
) -> None:
    trader = await make_account()
    webhook = await create_webhook(client, trader, auth)
    before = await row_counts(container)
    if auth == "signature":
        headers = {name: str(value).encode() for name, value in tamper.items()}
        response = await post_alert(sender, webhook, alert(), headers=headers)
    else:
        body = {**alert(), **tamper}
        if "secret" not in tamper:
            body.pop("secret", None)
        response = await sender.post(webhook["url"], json=body)
    assert assert_error_response(response, 401)["error"] == "invalid_signature"
    assert await row_counts(container) == before


async def test_a_signature_over_another_body_is_401(
    client: httpx.AsyncClient, sender: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    webhook = await create_webhook(client, trader, "signature")
    signed = await post_alert(sender, webhook, alert("a"))
    assert signed.status_code == 201
    reused = signed.request.headers["X-Signature-256"]
    forged = json.dumps(alert("a", quantity="50")).encode()
    response = await sender.post(
        webhook["url"], content=forged, headers={"X-Signature-256": reused}
    )
    assert response.status_code == 401


async def test_unknown_and_disabled_webhooks_are_401(
    client: httpx.AsyncClient,
    sender: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
) -> None:
    trader = await make_account()
    webhook = await create_webhook(client, trader)
    unknown = {**webhook, "url": "/api/v1/signals/" + "A" * 32}
    assert (await post_alert(sender, unknown, alert())).status_code == 401
    path = f"/api/v1/webhooks/{webhook['id']}"
    assert (await client.delete(path, headers=trader.headers)).status_code == 204
    before = await row_counts(container)
    assert (await post_alert(sender, webhook, alert())).status_code == 401
    assert await row_counts(container) == before
    shown = (await client.get(path, headers=trader.headers)).json()
    assert shown["is_active"] is False


async def test_a_bad_alert_is_refused_and_recorded_invalid(
    client: httpx.AsyncClient, sender: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    webhook = await create_webhook(client, trader, "signature")
    for body, status in (
        (alert(quantity="0"), 422),
        (alert(action="hold"), 422),
        ({"symbol": IF, "action": "buy", "quantity": 1}, 422),
        (alert(symbol="../../etc"), 422),
        (alert(quantity="NaN"), 422),
        (alert(user_id=1), 422),
    ):
        response = await post_alert(sender, webhook, body)
        assert_error_response(response, status)
    raw = b'{"id": "x", "action": "buy", "action": "sell"}'

    digest = hmac.new(webhook["secret"].encode(), raw, hashlib.sha256).hexdigest()
    duplicate = await sender.post(webhook["url"], content=raw, headers={"X-Signature-256": digest})
    assert assert_error_response(duplicate, 400)["error"] == "malformed_json"
    deliveries = await _deliveries(client, trader.headers, webhook["id"])
    assert [d["outcome"] for d in deliveries] == ["invalid"] * 7
    assert (await client.get("/api/v1/orders", headers=trader.headers)).json()["total"] == 0


async def test_alerts_go_through_the_risk_checks(
    client: httpx.AsyncClient, sender: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader, admin = await make_account(), await make_account(role=UserRole.ADMIN)
    webhook = await create_webhook(client, trader)
    halted = await client.post(
        "/api/v1/admin/halt", json={"reason": "drill"}, headers=admin.headers
    )
    assert halted.status_code == 200
    response = await post_alert(sender, webhook, alert("during-halt"))
    assert response.status_code == 201, response.text
    assert response.json()["outcome"] == "rejected"
    order = await client.get(
        f"/api/v1/orders/{response.json()['order_id']}", headers=trader.headers
    )
    assert order.json()["status"] == "rejected"


async def test_a_strategy_webhook_attributes_its_orders_to_the_strategy(
    client: httpx.AsyncClient, sender: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader, other = await make_account(), await make_account()
    strategy = {"name": "tv", "class_name": "MovingAverageStrategy", "symbol": IF}
    created = await client.post("/api/v1/strategies", json=strategy, headers=trader.headers)
    strategy_id = created.json()["id"]
    refused = await client.post(
        "/api/v1/webhooks", json={"name": "x", "strategy_id": strategy_id}, headers=other.headers
    )
    assert assert_error_response(refused, 404)["error"] == "strategy_not_found"
    webhook = await create_webhook(client, trader, strategy_id=strategy_id)
    response = await post_alert(sender, webhook, alert())
    assert response.status_code == 201, response.text
    order = await client.get(
        f"/api/v1/orders/{response.json()['order_id']}", headers=trader.headers
    )
    assert order.json()["strategy_id"] == strategy_id


async def test_a_demoted_owners_webhook_is_refused_and_recorded(
    client: httpx.AsyncClient, sender: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader, admin = await make_account(), await make_account(role=UserRole.ADMIN)
    webhook = await create_webhook(client, trader)
    demote = await client.patch(
        f"/api/v1/users/{trader.id}", json={"role": "viewer"}, headers=admin.headers
    )
    assert demote.status_code == 200
    response = await post_alert(sender, webhook, alert())
    assert assert_error_response(response, 403)["error"] == "read_only"
    login = await client.post(
        "/api/v1/auth/login", data={"username": trader.username, "password": trader.password}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert [d["outcome"] for d in await _deliveries(client, headers, webhook["id"])] == ["refused"]


async def test_deliveries_are_rate_limited_per_webhook(
    client: httpx.AsyncClient,
    sender: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
) -> None:
    trader = await make_account()
    webhook = await create_webhook(client, trader)
    limit = container.config.security.webhook_rate_limit
    for number in range(limit):
        response = await post_alert(sender, webhook, alert(f"n{number}", quantity="0"))
        assert response.status_code == 422
    refused = await post_alert(sender, webhook, alert("one too many"))
    assert assert_error_response(refused, 429)["error"] == "rate_limited"
    other = await create_webhook(client, trader)
    assert (await post_alert(sender, other, alert("elsewhere"))).status_code == 201


async def test_guessing_a_webhooks_secret_is_rate_limited_per_address_and_webhook(
    client: httpx.AsyncClient,
    sender: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
) -> None:
    trader = await make_account()
    webhook = await create_webhook(client, trader)
    for attempt in range(container.config.security.api_key_failure_limit):
        guess = {**alert(), "secret": f"guess-{attempt}"}
        assert (await sender.post(webhook["url"], json=guess)).status_code == 401
    refused = await post_alert(sender, webhook, alert())
    assert assert_error_response(refused, 429)["error"] == "rate_limited"
    # Another user's webhook, delivered from the same address (a charting tool's), still works.
    other = await create_webhook(client, await make_account())
    assert (await post_alert(sender, other, alert())).status_code == 201


async def test_an_oversized_body_is_413_and_stores_nothing(
    client: httpx.AsyncClient,
    sender: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
) -> None:
    trader = await make_account()
    webhook = await create_webhook(client, trader)
    limit = container.config.security.webhook_max_body_bytes
    before = await row_counts(container)
    padded = alert(comment="x" * 200, secret=webhook["secret"])
    raw = json.dumps(padded).encode() + b" " * limit
    response = await sender.post(webhook["url"], content=raw)
    assert_error_response(response, 413)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(limit // 1024 + 2):
            yield b" " * 1024

    streamed = await sender.post(webhook["url"], content=chunks())
    assert_error_response(streamed, 413)
    assert await row_counts(container) == before


async def test_webhooks_are_their_owners_and_the_secret_is_never_logged(
    client: httpx.AsyncClient,
    sender: httpx.AsyncClient,
    make_account: MakeAccount,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    owner, other = await make_account(), await make_account()
    webhook = await create_webhook(client, owner)
    assert (await post_alert(sender, webhook, alert())).status_code == 201
    path = f"/api/v1/webhooks/{webhook['id']}"
    for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/deliveries")):
        response = await client.request(method, path + suffix, headers=other.headers)
        assert assert_error_response(response, 404)["error"] == "webhook_not_found"
    listed = (await client.get("/api/v1/webhooks", headers=other.headers)).json()
    assert listed["total"] == 0
    mine = (await client.get("/api/v1/webhooks", headers=owner.headers)).json()
    assert "secret" not in mine["items"][0]
    captured = capfd.readouterr()
    assert webhook["secret"] not in caplog.text + captured.out + captured.err


async def test_a_viewer_cannot_create_webhooks(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    viewer = await make_account(role=UserRole.VIEWER)
    response = await client.post("/api/v1/webhooks", json={"name": "x"}, headers=viewer.headers)
    assert assert_error_response(response, 403)["error"] == "read_only"
