"""Stop-limit orders: a stop with a limit price; touched, it rests as a limit at that price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from backend.app.container import AppContainer
from tests.api.conftest import MakeAccount
from tests.api.contract import assert_error_response
from tests.api.trading import quote, settle

RB = "rb2501.SHFE"


async def _place(
    client: httpx.AsyncClient, container: AppContainer, headers: dict[str, str], **body: object
) -> dict[str, Any]:
    order = {"symbol": RB, "side": "BUY", "order_type": "stop", "quantity": 2, **body}
    response = await client.post("/api/v1/orders", json=order, headers=headers)
    assert response.status_code == 201, response.text
    await settle(container)
    return dict(response.json())


async def _read(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> Any:
    return (await client.get(f"/api/v1/orders/{order_id}", headers=headers)).json()


async def test_a_touched_stop_limit_trades_no_worse_than_its_limit_and_rests_the_rest(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    placed = await _place(client, container, trader.headers, price="3310", limit_price="3312")
    assert (placed["limit_price"], placed["order_type"]) == ("3312.00000000", "stop")
    assert (await _read(client, trader.headers, placed["id"]))["status"] == "submitted"
    # The ask jumps through both the stop and the limit: a plain stop would buy at 3315; the
    # stop-limit triggers but only rests as a buy limit at 3312.
    await quote(container, RB, last="3314", bid="3314", ask="3315")
    order = await _read(client, trader.headers, placed["id"])
    assert (order["status"], order["filled_quantity"]) == ("submitted", "0.00000000")
    [resting] = container.trading.market.list_open_orders()
    assert resting.price == Decimal(3312)
    # The market comes back to the limit: it fills there (or better), never above.
    await quote(container, RB, last="3311", bid="3311", ask="3312")
    order = await _read(client, trader.headers, placed["id"])
    assert (order["status"], order["avg_fill_price"]) == ("filled", "3312.00000000")


async def test_a_plain_stop_in_the_same_market_trades_beyond_the_limit(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """The control: without a limit price the same stop buys at the jumped ask."""
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    placed = await _place(client, container, trader.headers, price="3310")
    await quote(container, RB, last="3314", bid="3314", ask="3315")
    order = await _read(client, trader.headers, placed["id"])
    assert (order["status"], order["avg_fill_price"]) == ("filled", "3315.00000000")


async def test_a_stop_limit_already_through_rests_as_its_limit_at_once(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    placed = await _place(client, container, trader.headers, price="3295", limit_price="3298")
    order = await _read(client, trader.headers, placed["id"])
    assert order["status"] == "submitted"
    [resting] = container.trading.market.list_open_orders()
    assert resting.price == Decimal(3298)


async def test_a_limit_price_is_only_for_stops_and_on_the_tick_grid(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    base = {"symbol": RB, "side": "BUY", "quantity": 1}
    for body, field in (
        ({"order_type": "limit", "price": "3290", "limit_price": "3290"}, "limit_price"),
        ({"order_type": "market", "limit_price": "3290"}, "limit_price"),
        ({"order_type": "stop", "price": "3310", "limit_price": "3312.5"}, "limit_price"),
        ({"order_type": "stop", "price": "3310", "limit_price": "0"}, "limit_price"),
    ):
        response = await client.post(
            "/api/v1/orders", json={**base, **body}, headers=trader.headers
        )
        error = assert_error_response(response, 422)
        assert ["body", field] in [problem["loc"] for problem in error["detail"]]
    listed = (await client.get("/api/v1/orders", headers=trader.headers)).json()
    assert listed["total"] == 0


async def test_a_stop_limit_is_valued_and_banded_at_its_limit(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    far = await _place(client, container, trader.headers, price="3310", limit_price="9000")
    assert (far["status"], far["reject_reason"]) == ("rejected", "price_band")
