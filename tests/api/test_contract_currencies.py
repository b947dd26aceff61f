"""A contract quoted in another currency: its PnL is converted at the configured rate, or its
orders are refused; never added to the account as is."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.main import create_app
from backend.services.users import UserService
from tests.api.conftest import DEFAULT_PASSWORD
from tests.api.performance import fill
from tests.api.trading import quote

BTC, RB = "BTCUSDT.GLOBAL", "rb2501.SHFE"


@dataclass
class Trader:
    headers: dict[str, str]


@dataclass
class Market:
    client: httpx.AsyncClient
    container: AppContainer
    trader: Trader


@pytest.fixture
async def market(make_config: Callable[..., AppConfig]) -> AsyncIterator[Market]:
    """An app whose CNY account trades BTCUSDT in USDT at 7.1 and rebar in EUR (no rate)."""
    run = uuid.uuid4().hex[:8]
    risk = {"contract_currencies": {BTC: "USDT", RB: "EUR"}, "fx_rates": {"USDT": "7.1"}}
    app = create_app(make_config(replica_id=f"fx-{run}", risk=risk))
    container: AppContainer = app.state.container
    async with app.router.lifespan_context(app):
        async with container.database.session() as session:
            await UserService(container.security.passwords).create(
                session, username=f"fx-{run}", email=f"fx-{run}@example.com",
                password=DEFAULT_PASSWORD,
            )  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            login = await client.post(
                "/api/v1/auth/login", data={"username": f"fx-{run}", "password": DEFAULT_PASSWORD}
            )
            token = login.json()["access_token"]
            yield Market(client, container, Trader({"Authorization": f"Bearer {token}"}))


async def test_pnl_in_another_currency_is_converted_at_the_rate(market: Market) -> None:
    client, container, trader = market.client, market.container, market.trader
    await quote(container, BTC, last="60000.00", bid="60000.00", ask="60000.01")
    await fill(client, container, trader, symbol=BTC, side="BUY", quantity="1.5",
               price="60000.00")  # fmt: skip
    await fill(client, container, trader, symbol=BTC, side="SELL", quantity="1",
               price="60100.00", commission="6")  # fmt: skip
    await quote(container, BTC, last="60200.00", bid="60200.00", ask="60200.01")
    account = (await client.get("/api/v1/account", headers=trader.headers)).json()
    # 100 USDT realized and 6 of commission, 0.5 x 200 = 100 USDT unrealized; x 7.1 CNY
    assert account["currency"] == "CNY"
    assert (account["realized_pnl"], account["unrealized_pnl"]) == ("710.00000000", "710.00000000")
    assert account["balance"] == "10000667.40000000"  # + 710 - 42.6
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    assert (position["realized_pnl"], position["unrealized_pnl"]) == ("710.00000000",) * 2
    [pnl] = (await client.get("/api/v1/pnl", headers=trader.headers)).json()
    assert (pnl["realized_pnl"], pnl["unrealized_pnl"], pnl["commission"]) == (
        "710.00000000", "710.00000000", "42.60000000",
    )  # fmt: skip
    summary = (await client.get("/api/v1/account/summary", headers=trader.headers)).json()
    assert (summary["realized_pnl"], summary["commission"]) == ("710.00000000", "42.60000000")
    [day] = (await client.get("/api/v1/account/history", headers=trader.headers)).json()["days"]
    assert (day["realized_pnl"], day["commission"]) == ("710.00000000", "42.60000000")
    # The trade keeps what the gateway reported, in the contract's currency.
    trades = (await client.get("/api/v1/trades", headers=trader.headers)).json()["items"]
    assert Decimal(trades[0]["commission"]) == 6


async def test_a_contract_without_a_rate_is_refused(market: Market) -> None:
    client, container, trader = market.client, market.container, market.trader
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    body = {"symbol": RB, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3300"}
    refused = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert (error["type"], error["loc"]) == ("currency_not_convertible", ["body", "symbol"])
    assert "EUR" in error["msg"]
    assert "CNY" in error["msg"]
    assert (await client.get("/api/v1/orders", headers=trader.headers)).json()["total"] == 0


def test_rates_and_codes_are_checked(make_config: Callable[..., AppConfig]) -> None:
    for risk in ({"fx_rates": {"USDT": "0"}}, {"fx_rates": {"usdt": "7"}},
                 {"contract_currencies": {BTC: "tether!"}}):  # fmt: skip
        with pytest.raises(ValueError, match=r"currency code|positive"):
            make_config(risk=risk)
