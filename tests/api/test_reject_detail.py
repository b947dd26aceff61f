"""A risk rejection says what to change: `reject_detail` names the rule, its limit and the
order's value under it (decimal strings), in the answer, in GET and in the order list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backend.app.container import AppContainer
from backend.models.enums import UserRole
from tests.api.conftest import Account, MakeAccount
from tests.api.trading import quote

IF = "IF2412.CFFEX"
LIMIT_BUY = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3400"}


async def _admin(client: httpx.AsyncClient, make_account: MakeAccount, **limits: Any) -> Account:
    admin = await make_account(role=UserRole.ADMIN)
    if limits:
        response = await client.put("/api/v1/admin/risk", json=limits, headers=admin.headers)
        assert response.status_code == 200, response.text
    return admin


async def _place(client: httpx.AsyncClient, trader: Account, **order: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/orders", json=order, headers=trader.headers)
    assert response.status_code == 201, response.text
    placed: dict[str, Any] = response.json()
    return placed


async def _stored(client: httpx.AsyncClient, trader: Account, order_id: int) -> dict[str, Any]:
    one = await client.get(f"/api/v1/orders/{order_id}", headers=trader.headers)
    listed = await client.get("/api/v1/orders", headers=trader.headers)
    [in_list] = [order for order in listed.json()["items"] if order["id"] == order_id]
    assert in_list == one.json()
    stored: dict[str, Any] = one.json()
    return stored


@pytest.mark.parametrize(
    ("limits", "order", "detail"),
    [
        (
            {"max_order_quantity": 1000},
            {"order_type": "market", "quantity": 1001},
            {"rule": "max_order_quantity", "limit": "1000", "value": "1001"},
        ),
        # 3 x 3500.0 x 300
        (
            {"max_order_notional": 3_000_000},
            {"order_type": "limit", "quantity": 3, "price": "3500.0"},
            {"rule": "max_order_notional", "limit": "3000000", "value": "3150000"},
        ),
        # 351 / 3500 = 10.02857...% of the last price, shown rounded up to 4 places
        (
            {"price_band_pct": 10},
            {"order_type": "limit", "quantity": 1, "price": "3851.0"},
            {"rule": "price_band", "limit": "10", "value": "10.0286"},
        ),
        # 95 x 3316 x 300 = 94,506,000 against the 10,000,000 available
        (
            {},
            {"order_type": "limit", "quantity": 95, "price": "3316.0"},
            {"rule": "insufficient_buying_power", "limit": "10000000", "value": "94506000"},
        ),
    ],
)
async def test_each_static_rule_names_its_limit_and_the_orders_value(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    limits: dict[str, Any],
    order: dict[str, Any],
    detail: dict[str, str],
) -> None:
    trader = await make_account()
    await _admin(client, make_account, **limits)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    placed = await _place(client, trader, symbol=IF, side="BUY", **order)
    assert (placed["status"], placed["reject_reason"]) == ("rejected", detail["rule"])
    assert placed["reject_detail"] == detail
    assert (await _stored(client, trader, placed["id"]))["reject_detail"] == detail


async def test_the_open_order_count_names_the_limit_and_the_count_it_would_reach(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await _admin(client, make_account, max_open_orders=2)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    placed = [await _place(client, trader, **LIMIT_BUY) for _ in range(3)]
    assert [order["reject_detail"] for order in placed[:2]] == [None, None]
    detail = {"rule": "max_open_orders", "limit": "2", "value": "3"}
    assert placed[2]["reject_detail"] == detail
    assert (await _stored(client, trader, placed[2]["id"]))["reject_detail"] == detail


async def test_the_order_rate_names_the_limit_and_the_orders_count_this_second(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await _admin(client, make_account, max_orders_per_second=1)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    # A second boundary may fall between two of them, never two boundaries among three.
    placed = [await _place(client, trader, **LIMIT_BUY) for _ in range(3)]
    [rejected, *_] = [order for order in placed if order["status"] == "rejected"]
    detail = {"rule": "max_orders_per_second", "limit": "1", "value": "2"}
    assert rejected["reject_detail"] == detail
    assert (await _stored(client, trader, rejected["id"]))["reject_detail"] == detail


async def test_a_halt_is_named_without_figures(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    admin = await _admin(client, make_account)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    halted = await client.post("/api/v1/admin/halt", json={"reason": "x"}, headers=admin.headers)
    assert halted.status_code == 200
    placed = await _place(client, trader, **LIMIT_BUY)
    detail = {"rule": "trading_halted", "limit": None, "value": None}
    assert placed["reject_detail"] == detail
    assert (await _stored(client, trader, placed["id"]))["reject_detail"] == detail
