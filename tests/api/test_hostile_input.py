"""Hostile input: each request is refused with a 4xx in the contract's shape, and stores nothing.

Row counts of every table are compared before and after each request. Tokens in every
malformed shape are in test_hostile_tokens.py. WebSocket frames are refused by a real uvicorn
server, served as `redfire serve` serves the app.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.app.container import AppContainer
from backend.main import app as module_app
from backend.models.enums import UserRole
from tests.api.conftest import DEFAULT_PASSWORD, MakeAccount
from tests.api.contract import assert_error_response, row_counts
from tests.api.stream import WAIT, StalledClient, serve

IF = "IF2412.CFFEX"
LIMIT = 1_048_576  # the default max_body_bytes
JSON_TYPE = {"content-type": "application/json"}
ORDER: dict[str, Any] = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 1}
STRATEGY: dict[str, Any] = {"name": "s", "class_name": "MovingAverageStrategy", "symbol": IF}
USER: dict[str, Any] = {
    "username": "newcomer",
    "email": "new@example.com",
    "password": "pw-12345678",
}


@dataclass(frozen=True)
class Hostile:
    """One hostile request, who sends it, and the statuses that refuse it properly."""

    method: str
    path: str
    request: dict[str, Any]
    statuses: tuple[int, ...] = (422,)
    who: str = "trader"
    extra: dict[str, Any] = field(default_factory=dict)


def order(statuses: tuple[int, ...] = (422,), **changes: Any) -> Hostile:
    """POST /orders with `changes` applied to a valid market order."""
    return Hostile("POST", "/api/v1/orders", {"json": {**ORDER, **changes}}, statuses)


def raw_order(body: str | bytes, statuses: tuple[int, ...] = (400, 422), **headers: str) -> Hostile:
    """POST /orders with a raw body (JSON content type unless `headers` says otherwise)."""
    request = {"content": body, "headers": {**JSON_TYPE, **headers}}
    return Hostile("POST", "/api/v1/orders", request, statuses)


def strategy(**changes: Any) -> Hostile:
    """POST /strategies with `changes` applied to a valid strategy."""
    return Hostile("POST", "/api/v1/strategies", {"json": {**STRATEGY, **changes}})


def register(**changes: Any) -> Hostile:
    """POST /auth/register, anonymously, with `changes` applied to a valid account."""
    return Hostile("POST", "/api/v1/auth/register", {"json": {**USER, **changes}}, who="anonymous")


def api_key(**changes: Any) -> Hostile:
    """POST /api-keys with `changes` applied to a valid read key."""
    return Hostile(
        "POST", "/api/v1/api-keys", {"json": {"name": "bot", "scopes": ["read"], **changes}}
    )


def get(path: str, statuses: tuple[int, ...] = (422,), who: str = "trader") -> Hostile:
    """GET `path`."""
    return Hostile("GET", path, {}, statuses, who)


async def _chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 65536 + 1):
        yield b" " * 65536


DEEP = 10_000
UNKNOWN_HOOK = "A" * 32
BODIES: dict[str, Hostile] = {
    "oversized body": raw_order(b" " * (LIMIT + 1), (413,)),
    "oversized body without Content-Length": Hostile(
        "POST", "/api/v1/orders", {"headers": JSON_TYPE}, (413,), extra={"stream": LIMIT}
    ),
    "deep arrays": raw_order("[" * DEEP + "]" * DEEP),
    "deep objects": raw_order('{"a":' * DEEP + "1" + "}" * DEEP),
    "deep value in a field": raw_order(
        json.dumps(ORDER)[:-1] + ', "x": ' + "[" * DEEP + "]" * DEEP + "}"
    ),
    "5000-digit integer": raw_order('{"symbol": "IF2412.CFFEX", "quantity": ' + "9" * 5000 + "}"),
    "quantity 1e400": raw_order(json.dumps(ORDER).replace('"quantity": 1', '"quantity": 1e400')),
    "quantity 10**30": order(quantity=10**30),
    "NaN literal": raw_order(json.dumps(ORDER).replace('"quantity": 1', '"quantity": NaN')),
    "Infinity literal": raw_order(
        json.dumps(ORDER).replace('"quantity": 1', '"quantity": Infinity')
    ),
    "NaN string": order(quantity="NaN"),
    "sNaN string": order(quantity="sNaN"),
    "-Infinity string": order(quantity="-Infinity"),
    "negative quantity": order(quantity=-1),
    "zero quantity": order(quantity=0),
    "negative zero quantity": order(quantity="-0"),
    "quantity below 8 places": order(quantity="0.000000001"),
    "40-digit quantity": order(quantity="1" * 40),
    "40-digit fraction": order(quantity="0." + "1" * 40),
    "40-digit price": order(order_type="limit", price="3" * 40),
    "negative price": order(order_type="limit", price="-3500"),
    "price on a market order": order(price="3500"),
    "boolean quantity": order(quantity=True),
    "NUL in symbol": order(symbol="IF2412\x00.CFFEX"),
    "escape sequence in symbol": order(symbol="\x1b[2JIF2412.CFFEX"),
    "full-width symbol": order(symbol="ＩＦ2412.CFFEX"),
    "SQL in symbol": order(symbol="IF2412.CFFEX' OR '1'='1"),
    "SQL in side": order(side="BUY'; DROP TABLE orders; --"),
    "strategy id over INTEGER": order(strategy_id=2**31),
    "owner smuggled into an order": order(user_id=1),
    "malformed JSON": raw_order("{bad json", (400,)),
    "truncated JSON": raw_order(json.dumps(ORDER)[:-1], (400,)),
    "duplicate keys": raw_order(
        '{"symbol": "IF2412.CFFEX", "side": "BUY", "side": "SELL", '
        '"order_type": "market", "quantity": 1}',
        (400,),
    ),
    "nested duplicate keys": Hostile(
        "POST",
        "/api/v1/strategies",
        {
            "content": '{"name": "s", "class_name": "MovingAverageStrategy", "symbol": '
            '"IF2412.CFFEX", "parameters": {"fast_window": 2, "fast_window": 3}}',
            "headers": JSON_TYPE,
        },
        (400,),
    ),
    "not UTF-8": raw_order(b'{"symbol": "\xff\xfe"}', (400,)),
    "empty body": raw_order(b"", (422,)),
    "JSON array": raw_order("[]", (422,)),
    "JSON null": raw_order("null", (422,)),
    "text/plain": raw_order(json.dumps(ORDER), (422,), **{"content-type": "text/plain"}),
    "XML": raw_order(
        "<order><symbol>IF2412.CFFEX</symbol></order>",
        (422,),
        **{"content-type": "application/xml"},
    ),
    "form data to a JSON endpoint": Hostile("POST", "/api/v1/orders", {"data": ORDER}),
    "multipart to a JSON endpoint": Hostile("POST", "/api/v1/orders", {"files": {"f": b"x"}}),
    "JSON to the login form": Hostile(
        "POST",
        "/api/v1/auth/login",
        {"json": {"username": "trader1", "password": "x"}},
        who="anonymous",
    ),
    "NUL in strategy name": strategy(name="a\x00b"),
    "escape sequence in strategy name": strategy(name="\x1b]0;pwned\x07"),
    "blank strategy name": strategy(name="   "),
    "NUL in a parameter name": strategy(parameters={"fast_window\x00": 2}),
    "NUL in a parameter value": strategy(parameters={"fast_window": "\x00"}),
    "40-digit parameter": strategy(parameters={"fast_window": 10**40}),
    "import path as strategy class": strategy(class_name="os:system"),
    "module path as strategy class": strategy(
        class_name="backend.services.strategy.base.BaseStrategy"
    ),
    "path traversal as symbol": strategy(symbol="../../etc/passwd"),
    "NUL in a login name": Hostile(
        "POST",
        "/api/v1/auth/login",
        {"data": {"username": "a\x00", "password": "x"}},
        (401,),
        who="anonymous",
    ),
    "SQL in a login name": Hostile(
        "POST",
        "/api/v1/auth/login",
        {"data": {"username": "' OR 1=1 --", "password": "x"}},
        (401,),
        who="anonymous",
    ),
    "NUL in username": register(username="admin\x00"),
    "non-ASCII username": register(username="ädmin"),
    "SQL in username": register(username="admin' OR '1'='1"),
    "NUL in full name": register(full_name="Ann\x00"),
    "bell in full name": register(full_name="Ann\x07"),
    "NUL in email": register(email="a\x00@example.com"),
    "role smuggled into registration": register(role="admin"),
    "NUL in profile update": Hostile(
        "PATCH",
        "/api/v1/users/me",
        {"json": {"full_name": "\x00", "current_password": DEFAULT_PASSWORD}},
    ),
    "role smuggled into profile update": Hostile(
        "PATCH",
        "/api/v1/users/me",
        {"json": {"role": "admin", "current_password": DEFAULT_PASSWORD}},
    ),
    "NUL in halt reason": Hostile(
        "POST", "/api/v1/admin/halt", {"json": {"reason": "\x00"}}, who="admin"
    ),
    "boolean as a count": Hostile(
        "PUT", "/api/v1/admin/risk", {"json": {"max_open_orders": True}}, who="admin"
    ),
    "price band below 8 places": Hostile(
        "PUT", "/api/v1/admin/risk", {"json": {"price_band_pct": "0.000000001"}}, who="admin"
    ),
    "NaN tick": Hostile(
        "POST", "/api/v1/market/ticks", {"json": {"symbol": IF, "last_price": "NaN"}}, who="admin"
    ),
    "SQL in a client order id": order(client_order_id="x' OR '1'='1"),
    "client order id of 65 characters": order(client_order_id="c" * 65),
    "NUL in a client order id": order(client_order_id="c\x00"),
    "cancel-all of an unknown side": Hostile(
        "POST", "/api/v1/orders/cancel-all", {"json": {"side": "BUY'; --"}}
    ),
    "cancel-all with an unknown filter": Hostile(
        "POST", "/api/v1/orders/cancel-all", {"json": {"user_id": 1}}
    ),
    "close of a negative quantity": Hostile(
        "POST", f"/api/v1/positions/{IF}/close", {"json": {"quantity": "-1"}}, (409, 422)
    ),
    "Idempotency-Key with DEL": Hostile(
        "POST", "/api/v1/orders", {"json": ORDER, "headers": {"Idempotency-Key": "k\x7f"}}
    ),
    "Idempotency-Key of 256 characters": Hostile(
        "POST", "/api/v1/orders", {"json": ORDER, "headers": {"Idempotency-Key": "k" * 256}}
    ),
    "NUL in an API key name": api_key(name="bot\x00"),
    "escape sequence in an API key name": api_key(name="\x1b[2Jbot"),
    "unknown API key scope": api_key(scopes=["admin"]),
    "no API key scope": api_key(scopes=[]),
    "API key network that is not one": api_key(allowed_networks=["10.0.0.0/33"]),
    "SQL as an API key network": api_key(allowed_networks=["' OR 1=1 --"]),
    "33 API key networks": api_key(allowed_networks=["10.0.0.0/8"] * 33),
    "API key expiry in the past": api_key(expires_at="2001-01-01T00:00:00Z"),
    "API key expiry without a zone": api_key(expires_at="2999-01-01T00:00:00"),
    "owner smuggled into an API key": api_key(user_id=1),
    "NUL in a webhook name": Hostile("POST", "/api/v1/webhooks", {"json": {"name": "a\x00"}}),
    "unknown webhook auth": Hostile(
        "POST", "/api/v1/webhooks", {"json": {"name": "a", "auth": "none"}}
    ),
    "webhook strategy id over INTEGER": Hostile(
        "POST", "/api/v1/webhooks", {"json": {"name": "a", "strategy_id": 2**31}}
    ),
    "owner smuggled into a webhook": Hostile(
        "POST", "/api/v1/webhooks", {"json": {"name": "a", "user_id": 1}}
    ),
    "oversized alert": Hostile(
        "POST", f"/api/v1/signals/{UNKNOWN_HOOK}", {"content": b" " * 20_000}, (413,), "anonymous"
    ),
    "deep JSON alert to an unknown webhook": Hostile(
        "POST", f"/api/v1/signals/{UNKNOWN_HOOK}", {"content": "[" * DEEP}, (401,), "anonymous"
    ),
    "forged signature to an unknown webhook": Hostile(
        "POST",
        f"/api/v1/signals/{UNKNOWN_HOOK}",
        {"json": {"id": "1"}, "headers": {"X-Signature-256": "sha256=" + "0" * 64}},
        (401,),
        "anonymous",
    ),
}
PATHS: dict[str, Hostile] = {
    "encoded traversal in an order id": get("/api/v1/orders/..%2F..%2Fetc%2Fpasswd", (404, 422)),
    "traversal in an order id": get("/api/v1/orders/../../../etc/passwd", (404,)),
    "NUL as an order id": get("/api/v1/orders/%00"),
    "negative order id": get("/api/v1/orders/-1"),
    "zero order id": get("/api/v1/orders/0"),
    "fractional order id": get("/api/v1/orders/1.5"),
    "exponent order id": get("/api/v1/orders/1e3"),
    "order id over BIGINT": get(f"/api/v1/orders/{2**63}"),
    "40-digit order id": get(f"/api/v1/orders/{10**40}"),
    "strategy id over INTEGER": get(f"/api/v1/strategies/{2**31}"),
    "backtest id over INTEGER": get(f"/api/v1/backtests/{2**31}"),
    "user id over INTEGER": Hostile("PATCH", f"/api/v1/users/{2**31}", {"json": {}}, who="admin"),
    "Arabic-Indic digits as an id": get("/api/v1/orders/%D9%A1%D9%A2", (404, 422)),
    "SQL as an id": get("/api/v1/orders/1%20OR%201=1"),
    "SQL as a client order id": get("/api/v1/orders/by-client-id/x'%20OR%20'1'='1"),
    "traversal as a client order id": get("/api/v1/orders/by-client-id/..%2F..%2Fx", (404, 422)),
    "NUL in a position's symbol": Hostile("POST", "/api/v1/positions/IF%00/close", {}, (404, 422)),
    "encoded traversal in a symbol": get("/api/v1/market/ticks/..%2F..%2Fsecrets", (404,)),
    "NUL as a symbol": get("/api/v1/market/ticks/%00", (404, 422)),
    "NUL as a webhook": Hostile("POST", "/api/v1/signals/%00", {"json": {}}, (422,), "anonymous"),
    "traversal as a webhook": Hostile(
        "POST", "/api/v1/signals/..%2F..%2Fadmin", {"json": {}}, (404, 422), "anonymous"
    ),
    "webhook id over INTEGER": get(f"/api/v1/webhooks/{2**31}/deliveries"),
    "API key id over INTEGER": Hostile("DELETE", f"/api/v1/api-keys/{2**31}", {}),
    "API key owner filter over INTEGER": get(
        f"/api/v1/admin/api-keys?user_id={2**31}", who="admin"
    ),
    "offset over BIGINT": get(f"/api/v1/orders?offset={10**20}"),
    "limit 0": get("/api/v1/orders?limit=0"),
    "limit 501": get("/api/v1/orders?limit=501"),
    "negative limit": get("/api/v1/trades?limit=-1"),
    "NUL in a symbol filter": get("/api/v1/trades?symbol=IF%00"),
    "unknown status filter": get("/api/v1/orders?status=' OR 1=1 --"),
    "order id filter over BIGINT": get(f"/api/v1/trades?order_id={2**63}"),
}
CASES = {**BODIES, **PATHS}


@pytest.fixture
async def headers(make_account: MakeAccount) -> dict[str, dict[str, str]]:
    """Authorization headers of a trader and an admin (and none for anonymous)."""
    trader, admin = await make_account(), await make_account(role=UserRole.ADMIN)
    return {"trader": trader.headers, "admin": admin.headers, "anonymous": {}}


@pytest.mark.parametrize("name", list(CASES))
async def test_hostile_input_is_refused_and_stores_nothing(
    client: httpx.AsyncClient,
    container: AppContainer,
    headers: dict[str, dict[str, str]],
    name: str,
) -> None:
    case = CASES[name]
    request = dict(case.request)
    request["headers"] = {**headers[case.who], **request.get("headers", {})}
    if "stream" in case.extra:
        request["content"] = _chunks(case.extra["stream"])
    before = await row_counts(container)
    response = await client.request(case.method, case.path, **request)
    assert_error_response(response, *case.statuses)
    assert await row_counts(container) == before


JSON_OPERATIONS = [
    (method.upper(), path)
    for path, operations in module_app.openapi()["paths"].items()
    for method, operation in operations.items()
    if "application/json" in operation.get("requestBody", {}).get("content", {})
    # A webhook's sender proves itself first (401 for anyone else); a signed malformed alert
    # is 400 `malformed_json` in test_webhooks.py.
    and path != "/api/v1/signals/{hook}"
]


@pytest.mark.parametrize(
    ("method", "path"), JSON_OPERATIONS, ids=[" ".join(o) for o in JSON_OPERATIONS]
)
async def test_malformed_json_is_400_malformed_json_on_every_json_endpoint(
    client: httpx.AsyncClient,
    container: AppContainer,
    headers: dict[str, dict[str, str]],
    method: str,
    path: str,
) -> None:
    before = await row_counts(container)
    response = await client.request(
        method,
        re.sub(r"\{[^}]+\}", "1", path),
        content="{bad json",
        headers={**headers["admin"], **JSON_TYPE},
    )
    body = assert_error_response(response, 400)
    assert body["error"] == "malformed_json"
    assert body["detail"].startswith("the body is not valid JSON: "), body
    assert await row_counts(container) == before


MESSAGE_TOO_BIG = 1009


async def test_an_oversized_websocket_frame_is_refused_from_its_header(app: FastAPI) -> None:
    """15 MB announced in the first frame, before any authentication: uvicorn closes 1009 as
    soon as it has read the frame's header; it never waits for (or holds) the payload."""
    async with serve(app) as url:
        client = await StalledClient.connect(url)
        try:
            await client.send_frame_start(15 * 1024 * 1024, b" " * 1024)
            assert await asyncio.wait_for(client.close_code(), WAIT) == MESSAGE_TOO_BIG
        finally:
            client.close()
