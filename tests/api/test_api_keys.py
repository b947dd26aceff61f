"""API keys: created, listed and revoked by their owner; a key acts like a token with scopes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from backend.app.container import AppContainer
from backend.models.api_key import ApiKey
from backend.models.enums import UserRole
from tests.api.conftest import STRANGER_ADDRESS, MakeAccount
from tests.api.contract import assert_error_response
from tests.api.keys import create_key, key_headers, secret_of
from tests.api.stream import WsClient, serve, ws_client

IF = "IF2412.CFFEX"
LIMIT = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3400"}
MARKET = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 1}
POLICY_VIOLATION = 1008


@pytest.fixture
async def bot(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that never logs in (and sends no Authorization header)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _stored(container: AppContainer, key_id: int) -> ApiKey:
    async with container.database.session() as session:
        key = await session.get(ApiKey, key_id)
        assert key is not None
        return key


async def test_the_secret_is_shown_once_and_stored_only_as_a_digest(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    created = await create_key(client, trader, "trade", name="grid bot")
    assert created["key"].startswith(created["prefix"] + "_")
    assert (created["name"], created["scopes"]) == ("grid bot", ["read", "trade"])
    listed = (await client.get("/api/v1/api-keys", headers=trader.headers)).json()
    assert listed["total"] == 1
    assert "key" not in listed["items"][0]
    assert listed["items"][0]["prefix"] == created["prefix"]
    stored = await _stored(container, created["id"])
    secret = secret_of(created)
    assert secret not in stored.secret_hash
    assert len(stored.secret_hash) == 64


async def test_a_trade_key_places_and_cancels_orders_and_streams_fills_without_a_login(
    app: FastAPI, client: httpx.AsyncClient, bot: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    created = await create_key(client, trader, "trade")
    headers = key_headers(created)
    async with serve(app) as url, ws_client(url, additional_headers=headers) as ws:
        await ws.subscribe("order", "trade")
        placed = await bot.post("/api/v1/orders", json=LIMIT, headers=headers)
        assert placed.status_code == 201, placed.text
        assert placed.json()["user_id"] == trader.id
        order_id = placed.json()["id"]
        cancelled = await bot.post(f"/api/v1/orders/{order_id}/cancel", headers=headers)
        assert cancelled.status_code == 200, cancelled.text
        filled = await bot.post("/api/v1/orders", json=MARKET, headers=headers)
        assert filled.status_code == 201, filled.text
        await _until_traded(ws, filled.json()["id"])
    orders = await bot.get("/api/v1/orders", headers=headers)
    statuses = {item["id"]: item["status"] for item in orders.json()["items"]}
    assert statuses[order_id] == "cancelled"
    assert statuses[filled.json()["id"]] == "filled"


async def _until_traded(ws: WsClient, order_id: int) -> None:
    while True:
        message = await ws.receive()
        if message["topic"] == "trade" and message["data"]["order_id"] == order_id:
            assert Decimal(message["data"]["quantity"]) == 1
            return


async def test_a_key_as_the_websocket_token_streams_and_closes_once_revoked(
    app: FastAPI, client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    created = await create_key(client, trader, "read")
    async with serve(app) as url:
        async with ws_client(url, token=created["key"]) as ws:
            assert (await ws.subscribe(f"tick:{IF}"))["topic"] == "subscribed"
            revoked = await client.delete(
                f"/api/v1/api-keys/{created['id']}", headers=trader.headers
            )
            assert revoked.status_code == 204
            assert await ws.close_code() == POLICY_VIOLATION
        async with ws_client(url, token=created["key"]) as ws:
            assert await ws.close_code() == POLICY_VIOLATION


async def test_a_read_key_reads_and_gets_403_on_writes(
    client: httpx.AsyncClient, bot: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    headers = key_headers(await create_key(client, trader, "read"))
    assert (await bot.get("/api/v1/orders", headers=headers)).status_code == 200
    me = await bot.get("/api/v1/users/me", headers=headers)
    assert me.json()["id"] == trader.id
    refused = await bot.post("/api/v1/orders", json=LIMIT, headers=headers)
    assert assert_error_response(refused, 403)["error"] == "insufficient_scope"
    assert (await bot.get("/api/v1/orders", headers=headers)).json()["total"] == 0


async def test_a_key_cannot_manage_keys_change_the_account_or_administer(
    client: httpx.AsyncClient, bot: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    headers = key_headers(await create_key(client, admin, "trade"))
    body = {"name": "child", "scopes": ["trade"]}
    for method, path, kwargs in (
        ("POST", "/api/v1/api-keys", {"json": body}),
        ("GET", "/api/v1/api-keys", {}),
        ("GET", "/api/v1/admin/api-keys", {}),
        ("GET", "/api/v1/admin/risk", {}),
        ("POST", "/api/v1/admin/halt", {"json": {"reason": "bot"}}),
        ("PATCH", "/api/v1/users/me", {"json": {"full_name": "x", "current_password": "y"}}),
        ("POST", "/api/v1/auth/logout", {}),
    ):
        response = await bot.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        assert assert_error_response(response, 403)["error"] == "login_required", (method, path)


async def test_a_token_and_a_key_together_are_refused(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    headers = {**trader.headers, **key_headers(await create_key(client, trader, "trade"))}
    response = await client.get("/api/v1/orders", headers=headers)
    assert assert_error_response(response, 401)["error"] == "ambiguous_credentials"


@pytest.mark.parametrize(
    "value", ["", "rfk_", "rfk_0123456789abcdef_", "rfk_" + "a" * 200, "Bearer x", "rfk_zz_abc"]
)
async def test_a_malformed_key_is_401(bot: httpx.AsyncClient, value: str) -> None:
    response = await bot.get("/api/v1/orders", headers={"X-API-Key": value})
    assert assert_error_response(response, 401)["error"] == "invalid_api_key"


async def test_a_wrong_secret_for_a_real_prefix_is_401(
    client: httpx.AsyncClient, bot: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    created = await create_key(client, trader, "trade")
    forged = created["prefix"] + "_" + "x" * 43
    response = await bot.get("/api/v1/orders", headers={"X-API-Key": forged})
    assert assert_error_response(response, 401)["error"] == "invalid_api_key"


async def test_revoked_expired_and_disowned_keys_are_401(
    client: httpx.AsyncClient,
    bot: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
) -> None:
    trader, admin = await make_account(), await make_account(role=UserRole.ADMIN)
    revoked = await create_key(client, trader, "trade")
    assert (await bot.get("/api/v1/orders", headers=key_headers(revoked))).status_code == 200
    gone = await client.delete(f"/api/v1/api-keys/{revoked['id']}", headers=trader.headers)
    assert gone.status_code == 204
    answer = await bot.get("/api/v1/orders", headers=key_headers(revoked))
    assert assert_error_response(answer, 401)["error"] == "api_key_revoked"
    by_admin = await create_key(client, trader, "read")
    path = f"/api/v1/admin/api-keys/{by_admin['id']}"
    assert (await client.delete(path, headers=admin.headers)).status_code == 204
    assert (await bot.get("/api/v1/orders", headers=key_headers(by_admin))).status_code == 401
    expired = await create_key(client, trader, "read")
    async with container.database.session() as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(
            update(ApiKey).where(ApiKey.id == expired["id"]).values(expires_at=past)
        )
    answer = await bot.get("/api/v1/orders", headers=key_headers(expired))
    assert assert_error_response(answer, 401)["error"] == "api_key_expired"


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": "viewer"}])
async def test_deactivating_or_demoting_the_owner_disables_the_key_at_once(
    client: httpx.AsyncClient,
    bot: httpx.AsyncClient,
    make_account: MakeAccount,
    change: dict[str, object],
) -> None:
    trader, admin = await make_account(), await make_account(role=UserRole.ADMIN)
    headers = key_headers(await create_key(client, trader, "trade"))
    assert (await bot.get("/api/v1/orders", headers=headers)).status_code == 200  # remembered
    changed = await client.patch(f"/api/v1/users/{trader.id}", json=change, headers=admin.headers)
    assert changed.status_code == 200, changed.text
    answer = await bot.post("/api/v1/orders", json=LIMIT, headers=headers)
    assert assert_error_response(answer, 401)["error"] == "api_key_revoked"
    assert (await bot.get("/api/v1/orders", headers=headers)).status_code == 401


async def test_another_users_key_is_not_found_to_its_owner_only_to_admins(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    owner, other = await make_account(), await make_account()
    admin = await make_account(role=UserRole.ADMIN)
    created = await create_key(client, owner, "read")
    response = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=other.headers)
    assert assert_error_response(response, 404)["error"] == "api_key_not_found"
    assert (await client.get("/api/v1/api-keys", headers=other.headers)).json()["total"] == 0
    everyone = await client.get("/api/v1/admin/api-keys", headers=admin.headers)
    assert [item["id"] for item in everyone.json()["items"]] == [created["id"]]
    theirs = await client.get(f"/api/v1/admin/api-keys?user_id={other.id}", headers=admin.headers)
    assert theirs.json()["total"] == 0


async def test_a_viewer_may_create_read_keys_only(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    viewer = await make_account(role=UserRole.VIEWER)
    await create_key(client, viewer, "read")
    body = {"name": "bot", "scopes": ["trade"]}
    response = await client.post("/api/v1/api-keys", json=body, headers=viewer.headers)
    assert assert_error_response(response, 403)["error"] == "read_only"


async def test_a_key_is_refused_outside_its_allowed_networks(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    here = f"{STRANGER_ADDRESS[0]}/32"
    inside = key_headers(await create_key(client, trader, "read", allowed_networks=[here]))
    outside = key_headers(await create_key(client, trader, "read", allowed_networks=["10.0.0.0/8"]))
    assert (await stranger.get("/api/v1/orders", headers=inside)).status_code == 200
    refused = await stranger.get("/api/v1/orders", headers=outside)
    assert assert_error_response(refused, 403)["error"] == "network_not_allowed"


async def test_guessing_keys_is_rate_limited_per_address_even_for_a_right_key(
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
) -> None:
    trader = await make_account()
    right = key_headers(await create_key(client, trader, "read"))
    limit = container.config.security.api_key_failure_limit
    for attempt in range(limit):
        guess = {"X-API-Key": f"rfk_{attempt:016x}_" + "g" * 43}
        assert (await stranger.get("/api/v1/orders", headers=guess)).status_code == 401
    refused = await stranger.get("/api/v1/orders", headers=right)
    assert assert_error_response(refused, 429)["error"] == "rate_limited"
    assert (await client.get("/api/v1/orders", headers=right)).status_code == 200  # elsewhere


async def test_use_is_recorded_and_audited_without_the_secret(
    client: httpx.AsyncClient,
    bot: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    trader = await make_account()
    created = await create_key(client, trader, "read")
    assert (await _stored(container, created["id"])).last_used_at is None
    for _ in range(3):
        assert (await bot.get("/api/v1/orders", headers=key_headers(created))).status_code == 200
    assert (await _stored(container, created["id"])).last_used_at is not None
    public_id = created["prefix"].removeprefix("rfk_")
    events = [r.getMessage() for r in caplog.records if public_id in r.getMessage()]
    assert any("api_key_created" in e for e in events)
    assert sum("api_key_used" in e for e in events) == 1  # throttled, not one per request
    secret = secret_of(created)
    captured = capfd.readouterr()
    assert secret not in caplog.text + captured.out + captured.err


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["admin"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["read"]},
        {"name": "a\x00b", "scopes": ["read"]},
        {"name": "x", "scopes": ["read"], "allowed_networks": ["not-a-network"]},
        {"name": "x", "scopes": ["read"], "allowed_networks": ["10.0.0.0/8"] * 33},
        {"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["read"], "expires_at": "2999-01-01T00:00:00"},
        {"name": "x", "scopes": ["read"], "expires_at": 4102444800},  # Unix seconds: no
        {"name": "x", "scopes": ["read"], "expires_at": "9999-12-31T23:30:00-01:00"},
        {"name": "x", "scopes": ["read"], "user_id": 1},
    ],
)
async def test_a_bad_key_request_is_422_and_stores_nothing(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    body: dict[str, object],
) -> None:
    trader = await make_account()
    response = await client.post("/api/v1/api-keys", json=body, headers=trader.headers)
    assert_error_response(response, 422)
    async with container.database.session() as session:
        assert (await session.execute(select(ApiKey))).first() is None
