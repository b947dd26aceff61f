"""Buying power: an order the paper account cannot carry is stored `rejected`
(`insufficient_buying_power`); one that only closes a position needs none.

The account starts with 10,000,000; IF2412 is 300 per point, quoted 3500.0 / 3500.2, so a lot
holds 1,050,000 at the last price.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from prometheus_client import REGISTRY

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.main import create_app
from backend.services.users import UserService
from tests.api.conftest import DEFAULT_PASSWORD, MakeAccount
from tests.api.trading import quote, settle

IF = "IF2412.CFFEX"
REASON = "insufficient_buying_power"
BALANCE = Decimal(10_000_000)


def _rejections() -> float:
    value = REGISTRY.get_sample_value("redfire_order_rejections_total", {"reason": REASON})
    return value or 0.0


def _limit_buy(quantity: int, price: str = "3316.0") -> dict[str, Any]:
    return {
        "symbol": IF,
        "side": "BUY",
        "order_type": "limit",
        "quantity": quantity,
        "price": price,
    }


async def _place(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/api/v1/orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    placed: dict[str, Any] = response.json()
    return placed


async def _account(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Decimal]:
    body = (await client.get("/api/v1/account", headers=headers)).json()
    return {name: Decimal(value) for name, value in body.items() if name != "currency"}


async def test_the_reported_case_ten_buys_of_95_lots_are_all_rejected(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """95 lots at 3316 hold 94,506,000: none of them fits a 10,000,000 account."""
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    placed = [await _place(client, trader.headers, _limit_buy(95)) for _ in range(10)]
    assert {(order["status"], order["reject_reason"]) for order in placed} == {("rejected", REASON)}
    account = await _account(client, trader.headers)
    assert (account["frozen"], account["available"]) == (0, BALANCE)


async def test_limit_buys_are_accepted_while_they_fit(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """3 lots at 3316 hold 2,984,400: three fit, the fourth would take available below zero."""
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    before = _rejections()
    placed = [await _place(client, trader.headers, _limit_buy(3)) for _ in range(10)]
    assert [order["reject_reason"] for order in placed] == [None] * 3 + [REASON] * 7
    assert _rejections() == before + 7
    stored = await client.get(f"/api/v1/orders/{placed[3]['id']}", headers=trader.headers)
    assert (stored.json()["status"], stored.json()["reject_reason"]) == ("rejected", REASON)
    account = await _account(client, trader.headers)
    assert account["frozen"] == 3 * 3 * Decimal("3316.0") * 300
    assert account["available"] == BALANCE - account["frozen"]
    # A smaller one still fits; the account is never overdrawn.
    assert (await _place(client, trader.headers, _limit_buy(1)))["reject_reason"] is None
    assert (await _account(client, trader.headers))["available"] >= 0


async def test_orders_booked_together_hold_one_account(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """Sent at once, they are booked in the same batches: still three fit."""
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    placed = await asyncio.gather(
        *(_place(client, trader.headers, _limit_buy(3)) for _ in range(10))
    )
    reasons = sorted(order["reject_reason"] or "" for order in placed)
    assert reasons == [""] * 3 + [REASON] * 7
    assert (await _account(client, trader.headers))["available"] >= 0


async def test_market_and_stop_orders_cannot_build_a_position_beyond_the_account(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """Filled orders hold their position's notional: the position cannot outgrow the account."""
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    market = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 2}
    stop = {**market, "order_type": "stop", "price": "0.2"}  # triggers at once
    reasons = []
    for body in [market, stop] * 5:
        reasons.append((await _place(client, trader.headers, body))["reject_reason"])
        await settle(container)
    # 2 lots hold 2,100,000 at the last price: four orders fit (and their commissions).
    assert reasons == [None] * 4 + [REASON] * 6
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    assert Decimal(position["quantity"]) == 8
    account = await _account(client, trader.headers)
    assert account["margin"] == 8 * 3500 * 300
    assert account["frozen"] == 0
    assert (
        account["available"] == account["balance"] + account["unrealized_pnl"] - account["margin"]
    )
    assert account["available"] >= 0


async def test_closing_needs_no_buying_power_and_opening_beyond_it_is_rejected(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    short = {"symbol": IF, "side": "SELL", "order_type": "market", "quantity": 9}
    assert (await _place(client, trader.headers, short))["reject_reason"] is None
    await settle(container)
    # The market runs away from the short: the account is in the red.
    await quote(container, IF, last="3700.0", bid="3700.0", ask="3700.2")
    assert (await _account(client, trader.headers))["available"] < 0

    cover_and_buy = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 10}
    assert (await _place(client, trader.headers, cover_and_buy))["reject_reason"] == REASON
    cover = {**cover_and_buy, "quantity": 9}
    covered = await _place(client, trader.headers, cover)
    assert covered["reject_reason"] is None
    await settle(container)
    order = await client.get(f"/api/v1/orders/{covered['id']}", headers=trader.headers)
    assert order.json()["status"] == "filled"
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    assert Decimal(position["quantity"]) == 0


async def test_sells_already_closing_a_long_leave_none_of_it_for_the_next(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    long = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 9}
    assert (await _place(client, trader.headers, long))["reject_reason"] is None
    await settle(container)
    take_profit = {"symbol": IF, "side": "SELL", "order_type": "limit", "quantity": 9}
    take_profit["price"] = "3600.0"
    first = await _place(client, trader.headers, take_profit)
    assert (first["status"], first["reject_reason"]) == ("submitted", None)
    assert (await _account(client, trader.headers))["frozen"] == 0  # it closes: it holds nothing
    # The same again would open a short of 9 (9,720,000), which the rest cannot carry.
    assert (await _place(client, trader.headers, take_profit))["reject_reason"] == REASON


async def test_a_margin_ratio_lets_the_account_trade_a_multiple(
    make_config: Callable[..., AppConfig],
) -> None:
    """RISK__MARGIN_RATIO=0.1: positions and opening orders hold a tenth of their notional."""
    run = uuid.uuid4().hex[:8]
    app = create_app(make_config(replica_id=f"margin-{run}", risk={"margin_ratio": "0.1"}))
    container: AppContainer = app.state.container
    async with app.router.lifespan_context(app):
        username = f"margin-{run}"
        async with container.database.session() as session:
            await UserService(container.security.passwords).create(
                session,
                username=username,
                email=f"{username}@example.com",
                password=DEFAULT_PASSWORD,
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            login = await client.post(
                "/api/v1/auth/login", data={"username": username, "password": DEFAULT_PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
            # 30 lots at 3316 hold a tenth of 29,844,000.
            placed = [await _place(client, headers, _limit_buy(30)) for _ in range(4)]
            assert [order["reject_reason"] for order in placed] == [None] * 3 + [REASON]
            account = await _account(client, headers)
            assert account["frozen"] == Decimal("0.1") * 90 * Decimal("3316.0") * 300
