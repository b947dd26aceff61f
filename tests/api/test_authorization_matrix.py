"""Every route x {anonymous, viewer, trader, other trader, admin}: the status each one gets.

The routes come from the app's route table; a route without a row in `MATRIX` fails
`test_every_route_has_a_row`, so a new endpoint cannot be added without deciding who may call it.
The trader owns the objects behind every {id}; the other trader, the viewer and the admin are
not their owners and get 404 (never 403: no one learns that another user's object exists).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import Route

from backend.app.container import AppContainer
from backend.main import app as module_app
from backend.models.backtest import Backtest
from backend.models.enums import BacktestStatus, OptimizationStatus, UserRole
from backend.models.optimization import Optimization
from tests.api.conftest import DEFAULT_PASSWORD, Account, MakeAccount, login
from tests.api.contract import assert_error_response
from tests.api.keys import create_key, key_headers
from tests.api.stream import serve, ws_client
from tests.api.webhooks import create_webhook

IF = "IF2412.CFFEX"
ANONYMOUS, VIEWER, TRADER, OTHER, ADMIN = "anonymous", "viewer", "trader", "other", "admin"
# The owner goes last: its request may delete or change the object the others ask about.
ROLE_ORDER = (ANONYMOUS, VIEWER, OTHER, ADMIN, TRADER)
POLICY_VIOLATION = 1008
CSV = b"datetime,open,high,low,close,volume\n" + b"".join(
    f"2024-01-0{day}T09:00:00+00:00,100,101,99,100,10\n".encode() for day in range(1, 6)
)


@dataclass
class World:
    """Accounts of every role, and objects owned by the trader."""

    accounts: dict[str, Account]
    order_id: int
    strategy_id: int
    backtest_id: int
    optimization_id: int
    spare_refresh_token: str
    api_key_id: int = 0
    webhook_id: int = 0
    hook: str = ""
    hook_secret: str = ""

    def path(self, template: str) -> str:
        """The template with the trader's objects (and the viewer as the administered user)."""
        return template.format(
            order_id=self.order_id,
            strategy_id=self.strategy_id,
            backtest_id=self.backtest_id,
            optimization_id=self.optimization_id,
            user_id=self.accounts[VIEWER].id,
            symbol=IF,
            vt_symbol=IF,
            client_order_id=CLIENT_ORDER_ID,
            key_id=self.api_key_id,
            webhook_id=self.webhook_id,
            hook=self.hook,
        )


Body = Callable[[World, str], dict[str, Any]]


def _status(anonymous: int, viewer: int, trader: int, other: int, admin: int) -> dict[str, int]:
    return {ANONYMOUS: anonymous, VIEWER: viewer, TRADER: trader, OTHER: other, ADMIN: admin}


def public(ok: int) -> dict[str, int]:
    """Anyone, token or not."""
    return _status(ok, ok, ok, ok, ok)


def user(ok: int) -> dict[str, int]:
    """Any logged-in user, about their own data."""
    return _status(401, ok, ok, ok, ok)


def trading(ok: int) -> dict[str, int]:
    """Traders and admins; viewers read only."""
    return _status(401, 403, ok, ok, ok)


def owned_read(ok: int) -> dict[str, int]:
    """The owner reads; everyone else is told it does not exist."""
    return _status(401, 404, ok, 404, 404)


def owned_write(ok: int) -> dict[str, int]:
    """The owner changes; a viewer is read-only first; everyone else: does not exist."""
    return _status(401, 403, ok, 404, 404)


def owned_by_user(ok: int) -> dict[str, int]:
    """Any logged-in user's own object (a viewer's too): everyone else is told it does not exist."""
    return _status(401, 404, ok, 404, 404)


def admin_only(ok: int) -> dict[str, int]:
    """Administrators only."""
    return _status(401, 403, 403, 403, ok)


def _signal(world: World, role: str) -> dict[str, Any]:
    """A TradingView alert to the trader's webhook, one per role (none is a redelivery)."""
    alert = {"id": f"alert of {role}", "symbol": IF, "action": "buy", "quantity": "1"}
    return {"json": {**alert, "secret": world.hook_secret}}


def json_body(value: dict[str, Any]) -> Body:
    """The same JSON body for every role."""
    return lambda world, role: {"json": value}


@dataclass(frozen=True)
class Row:
    """Who gets what on one route, and what to send it."""

    expected: dict[str, int]
    body: Body = field(default=lambda world, role: {})


def _register(world: World, role: str) -> dict[str, Any]:
    name = f"new_{role}"
    return {"json": {"username": name, "email": f"{name}@example.com", "password": "pw-12345678"}}


def _login(world: World, role: str) -> dict[str, Any]:
    account = world.accounts[TRADER if role == ANONYMOUS else role]
    return {"data": {"username": account.username, "password": DEFAULT_PASSWORD}}


def _refresh(world: World, role: str) -> dict[str, Any]:
    token = world.spare_refresh_token if role == ANONYMOUS else world.accounts[role].refresh_token
    return {"json": {"refresh_token": token}}


def _strategy(world: World, role: str) -> dict[str, Any]:
    body = {"name": f"created by {role}", "class_name": "MovingAverageStrategy", "symbol": IF}
    return {"json": body}


def _backtest(world: World, role: str) -> dict[str, Any]:
    data = {"class_name": "MovingAverageStrategy", "symbol": IF}
    return {"data": data, "files": {"file": ("bars.csv", CSV, "text/csv")}}


def _optimization(world: World, role: str) -> dict[str, Any]:
    sweep = {"class_name": "DoubleMaStrategy", "symbol": IF,
             "ranges": [{"name": "fast_window", "start": 2, "end": 3, "step": 1}]}  # fmt: skip
    data = {"optimization": json.dumps(sweep)}
    return {"data": data, "files": {"file": ("bars.csv", CSV, "text/csv")}}


CLIENT_ORDER_ID = "matrix-order"  # the trader's order's own id
ORDER = {
    "symbol": IF,
    "side": "BUY",
    "order_type": "limit",
    "quantity": 1,
    "price": "3400",
}  # rests: under the market
MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/openapi.json"): Row(public(200)),
    ("GET", "/docs"): Row(public(200)),
    ("GET", "/redoc"): Row(public(200)),
    ("GET", "/health"): Row(public(200)),
    ("GET", "/health/live"): Row(public(200)),
    ("GET", "/health/ready"): Row(public(200)),
    ("GET", "/metrics"): Row(public(200)),
    ("POST", "/api/v1/auth/register"): Row(public(201), _register),
    ("POST", "/api/v1/auth/login"): Row(public(200), _login),
    ("POST", "/api/v1/auth/refresh"): Row(public(200), _refresh),
    ("POST", "/api/v1/auth/logout"): Row(user(204)),
    ("GET", "/api/v1/users/me"): Row(user(200)),
    ("PATCH", "/api/v1/users/me"): Row(
        user(200), json_body({"full_name": "Renamed", "current_password": DEFAULT_PASSWORD})
    ),
    ("GET", "/api/v1/users"): Row(admin_only(200)),
    ("PATCH", "/api/v1/users/{user_id}"): Row(admin_only(200), json_body({"role": "viewer"})),
    ("POST", "/api/v1/orders"): Row(trading(201), json_body(ORDER)),
    ("GET", "/api/v1/orders"): Row(user(200)),
    ("GET", "/api/v1/orders/{order_id}"): Row(owned_read(200)),
    ("POST", "/api/v1/orders/{order_id}/cancel"): Row(owned_write(200)),
    ("PATCH", "/api/v1/orders/{order_id}"): Row(owned_write(200), json_body({"price": "3399.8"})),
    # Everyone cancels their own open orders: the trader's own order is among them.
    ("POST", "/api/v1/orders/cancel-all"): Row(trading(200)),
    ("GET", "/api/v1/orders/by-client-id/{client_order_id}"): Row(owned_read(200)),
    ("POST", "/api/v1/orders/by-client-id/{client_order_id}/cancel"): Row(owned_write(200)),
    # Nobody holds IF here: the trader (and anyone else trading) is told there is nothing.
    ("POST", "/api/v1/positions/{vt_symbol}/close"): Row(trading(409)),
    ("GET", "/api/v1/trades"): Row(user(200)),
    ("GET", "/api/v1/positions"): Row(user(200)),
    ("GET", "/api/v1/account"): Row(user(200)),
    ("GET", "/api/v1/account/history"): Row(user(200)),
    ("GET", "/api/v1/account/summary"): Row(user(200)),
    ("GET", "/api/v1/pnl"): Row(user(200)),
    ("GET", "/api/v1/strategies/classes"): Row(user(200)),
    ("POST", "/api/v1/strategies"): Row(trading(201), _strategy),
    ("GET", "/api/v1/strategies"): Row(user(200)),
    ("GET", "/api/v1/strategies/{strategy_id}"): Row(owned_read(200)),
    ("PATCH", "/api/v1/strategies/{strategy_id}"): Row(
        owned_write(200), json_body({"name": "renamed"})
    ),
    ("DELETE", "/api/v1/strategies/{strategy_id}"): Row(owned_write(204)),
    ("POST", "/api/v1/strategies/{strategy_id}/start"): Row(owned_write(200)),
    ("POST", "/api/v1/strategies/{strategy_id}/stop"): Row(owned_write(200)),
    ("GET", "/api/v1/strategies/{strategy_id}/status"): Row(owned_read(200)),
    ("POST", "/api/v1/backtests"): Row(trading(202), _backtest),
    ("GET", "/api/v1/backtests"): Row(user(200)),
    ("GET", "/api/v1/backtests/{backtest_id}"): Row(owned_read(200)),
    # Found and owned, but not finished: 409 is the owner's answer.
    ("GET", "/api/v1/backtests/{backtest_id}/equity.png"): Row(owned_read(409)),
    ("POST", "/api/v1/backtests/{backtest_id}/cancel"): Row(owned_write(200)),
    ("POST", "/api/v1/optimizations"): Row(trading(202), _optimization),
    ("GET", "/api/v1/optimizations"): Row(user(200)),
    ("GET", "/api/v1/optimizations/{optimization_id}"): Row(owned_read(200)),
    ("POST", "/api/v1/optimizations/{optimization_id}/cancel"): Row(owned_write(200)),
    ("GET", "/api/v1/admin/risk"): Row(admin_only(200)),
    ("PUT", "/api/v1/admin/risk"): Row(admin_only(200), json_body({"max_open_orders": 50})),
    ("POST", "/api/v1/admin/halt"): Row(admin_only(200), json_body({"reason": "drill"})),
    ("POST", "/api/v1/admin/resume"): Row(admin_only(200)),
    ("GET", "/api/v1/market/symbols"): Row(user(200)),
    ("GET", "/api/v1/market/ticks/{symbol}"): Row(user(200)),
    ("POST", "/api/v1/market/ticks"): Row(
        admin_only(202), json_body({"symbol": IF, "last_price": "3500"})
    ),
    ("POST", "/api/v1/api-keys"): Row(user(201), json_body({"name": "bot", "scopes": ["read"]})),
    ("GET", "/api/v1/api-keys"): Row(user(200)),
    ("DELETE", "/api/v1/api-keys/{key_id}"): Row(owned_by_user(204)),
    ("POST", "/api/v1/webhooks"): Row(trading(201), json_body({"name": "hook"})),
    ("GET", "/api/v1/webhooks"): Row(user(200)),
    ("GET", "/api/v1/webhooks/{webhook_id}"): Row(owned_read(200)),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): Row(owned_by_user(204)),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): Row(owned_read(200)),
    # No login: the webhook's unguessable URL and its secret are the credentials.
    ("POST", "/api/v1/signals/{hook}"): Row(public(201), _signal),
    ("GET", "/api/v1/admin/api-keys"): Row(admin_only(200)),
    ("DELETE", "/api/v1/admin/api-keys/{key_id}"): Row(admin_only(204)),
    # The WebSocket's entry in the OpenAPI document: plain HTTP is told to upgrade.
    ("GET", "/api/v1/ws"): Row(public(426)),
    ("GET", "/api/v1/market/bars"): Row(user(200), lambda world, role: {"params": {"symbol": IF}}),
    ("GET", "/api/v1/market/bars/coverage"): Row(user(200)),
    ("POST", "/api/v1/market/bars/import"): Row(
        admin_only(200),
        lambda world, role: {
            "params": {"symbol": IF, "interval": "1m"},
            "files": {"file": ("bars.csv", CSV, "text/csv")},
        },
    ),
}
WEBSOCKET = "/api/v1/ws"


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route, documented or not, and ("WS", path) of WebSockets."""
    table: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, str(context.path)
        if isinstance(route, APIWebSocketRoute):
            table.add(("WS", path))
        elif isinstance(route, APIRoute | Route):
            table |= {(method, path) for method in (context.methods or set()) - {"HEAD"}}
    return table


def test_every_route_has_a_row() -> None:
    routes = route_table(module_app)
    assert routes - set(MATRIX) - {("WS", WEBSOCKET)} == set(), "routes missing from MATRIX"
    assert set(MATRIX) - routes == set(), "MATRIX rows for routes that do not exist"
    assert ("WS", WEBSOCKET) in routes


async def _world(client: httpx.AsyncClient, container: AppContainer, make: MakeAccount) -> World:
    accounts = {
        VIEWER: await make(role=UserRole.VIEWER),
        TRADER: await make(role=UserRole.TRADER),
        OTHER: await make(role=UserRole.TRADER),
        ADMIN: await make(role=UserRole.ADMIN),
    }
    headers = accounts[TRADER].headers
    seed = {**ORDER, "client_order_id": CLIENT_ORDER_ID}
    order = await client.post("/api/v1/orders", json=seed, headers=headers)
    strategy = await client.post("/api/v1/strategies", json=_strategy_seed(), headers=headers)
    assert (order.status_code, strategy.status_code) == (201, 201), (order.text, strategy.text)
    async with container.database.session() as session:
        backtest = Backtest(user_id=accounts[TRADER].id, status=BacktestStatus.QUEUED,
                            class_name="MovingAverageStrategy", symbol=IF, source="csv",
                            replica="elsewhere")  # fmt: skip
        session.add(backtest)
        optimization = Optimization(user_id=accounts[TRADER].id,
                                    status=OptimizationStatus.QUEUED,
                                    class_name="DoubleMaStrategy", symbol=IF, source="csv",
                                    method="grid", target="sharpe_ratio", request={},
                                    settings={}, bar_count=5, total=2, done=0, evaluated=0,
                                    refused=0, replica="elsewhere")  # fmt: skip
        session.add(optimization)
        await session.flush()
        backtest_id, optimization_id = backtest.id, optimization.id
    spare = await login(client, accounts[VIEWER].username, DEFAULT_PASSWORD)
    ids = order.json()["id"], strategy.json()["id"], backtest_id, optimization_id
    key = await create_key(client, accounts[TRADER], "read")
    hook = await create_webhook(client, accounts[TRADER])
    return World(
        accounts,
        *ids,
        spare_refresh_token=spare.json()["refresh_token"],
        api_key_id=key["id"],
        webhook_id=hook["id"],
        hook=hook["url"].rsplit("/", 1)[1],
        hook_secret=hook["secret"],
    )


def _strategy_seed() -> dict[str, Any]:
    return {"name": "seed", "class_name": "MovingAverageStrategy", "symbol": IF}


async def _wait_for_backtests(container: AppContainer) -> None:
    """Let the backtests this test queued finish before the tables are emptied."""
    async with asyncio.timeout(30):
        while container.backtests.pending or container.research.pending:  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # polling a condition, bounded by the timeout


@pytest.mark.parametrize(
    ("method", "path"), sorted(MATRIX), ids=[f"{m} {p}" for m, p in sorted(MATRIX)]
)
async def test_each_role_gets_the_expected_status(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    method: str,
    path: str,
) -> None:
    world = await _world(client, container, make_account)
    row = MATRIX[(method, path)]
    answers: dict[str, int] = {}
    for role in ROLE_ORDER:
        headers = {} if role == ANONYMOUS else world.accounts[role].headers
        kwargs = row.body(world, role)
        response = await client.request(method, world.path(path), headers=headers, **kwargs)
        answers[role] = response.status_code
        if response.status_code >= 400:
            assert_error_response(response, response.status_code)
    trader = world.accounts[TRADER].headers
    await client.post(f"/api/v1/strategies/{world.strategy_id}/stop", headers=trader)
    await _wait_for_backtests(container)
    assert answers == row.expected


async def test_websocket_needs_a_token_and_admits_every_role(
    app: FastAPI, make_account: MakeAccount
) -> None:
    accounts = [await make_account(role=role) for role in UserRole]
    async with serve(app) as url:
        async with ws_client(url) as anonymous:
            await anonymous.send({"op": "subscribe", "topics": ["order"]})
            assert await anonymous.close_code() == POLICY_VIOLATION
        for account in accounts:
            async with ws_client(url, token=account.access_token) as ws:
                answer = await ws.subscribe("order")
                assert answer["topic"] == "subscribed"


# With an API key instead of a token: the key's owner's answer, narrowed by the key. Rows that
# need a login (account changes, key management, logout) and admin rows answer every key 403.
LOGIN_ONLY = {
    ("PATCH", "/api/v1/users/me"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/api-keys"),
    ("GET", "/api/v1/api-keys"),
    ("DELETE", "/api/v1/api-keys/{key_id}"),
    ("POST", "/api/v1/webhooks"),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"),
}
READ_KEY, TRADE_KEY, ADMIN_KEY = "read key", "trade key", "admin's trade key"
AUTHENTICATED = sorted(key for key, row in MATRIX.items() if row.expected[ANONYMOUS] == 401)


def key_expectation(method: str, path: str) -> dict[str, int]:
    """What a read key and a trade key of the trader, and an admin's trade key, get."""
    row = MATRIX[(method, path)]
    trader = row.expected[TRADER]
    admin_row = row.expected == admin_only(row.expected[ADMIN])
    if (method, path) in LOGIN_ONLY or admin_row:
        return {READ_KEY: 403, TRADE_KEY: 403, ADMIN_KEY: 403}
    read = trader if method == "GET" else 403
    return {READ_KEY: read, TRADE_KEY: trader, ADMIN_KEY: row.expected[ADMIN]}


@pytest.mark.parametrize(
    ("method", "path"), AUTHENTICATED, ids=[f"{m} {p}" for m, p in AUTHENTICATED]
)
async def test_each_api_key_gets_its_owners_status_narrowed_by_its_scopes(
    app: FastAPI,
    container: AppContainer,
    make_account: MakeAccount,
    method: str,
    path: str,
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        world = await _world(client, container, make_account)
        trader, admin = world.accounts[TRADER], world.accounts[ADMIN]
        keys = {
            READ_KEY: (await create_key(client, trader, "read"), TRADER),
            ADMIN_KEY: (await create_key(client, admin, "trade"), ADMIN),
            TRADE_KEY: (await create_key(client, trader, "trade"), TRADER),
        }
        answers: dict[str, int] = {}
        for name, (created, role) in keys.items():  # the owner's trade key last
            kwargs = MATRIX[(method, path)].body(world, role)
            response = await client.request(
                method, world.path(path), headers=key_headers(created), **kwargs
            )
            answers[name] = response.status_code
            if response.status_code >= 400:
                assert_error_response(response, response.status_code)
        await client.post(f"/api/v1/strategies/{world.strategy_id}/stop", headers=trader.headers)
        await _wait_for_backtests(container)
    assert answers == key_expectation(method, path)
