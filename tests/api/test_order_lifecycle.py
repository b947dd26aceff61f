"""Races, replays and restarts: no order is lost, duplicated or left open."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.domain.market import TradeFill
from backend.main import create_app
from backend.models.control import IdempotencyKey
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.models.order import Order, Trade
from backend.schemas.orders import OrderCreate
from backend.services.orders.idempotency import request_fingerprint
from tests.api.conftest import MakeAccount
from tests.api.trading import quote, resting_buy, settle

IF = "IF2412.CFFEX"


async def _trades(container: AppContainer) -> list[Trade]:
    async with container.database.session() as session:
        return list((await session.scalars(select(Trade))).all())


async def test_a_fill_racing_a_cancel_wins(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    placed = await resting_buy(client, container, trader.headers, price="3499.0")
    # The crossing tick fills the order at the gateway; the cancel arrives right behind it.
    container.trading.market.paper_gateway(IF).inject_tick(
        IF, last_price=Decimal("3498.0"), bid_price=Decimal("3497.8"), ask_price=Decimal("3498.0")
    )
    cancel = await client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=trader.headers)
    assert cancel.status_code in (200, 409)
    if cancel.status_code == 200:  # answered while still open; never "filled" with a 200
        assert cancel.json()["status"] in ("submitted", "partially_filled"), cancel.text
    await settle(container)
    order = (await client.get(f"/api/v1/orders/{placed['id']}", headers=trader.headers)).json()
    assert order["status"] == "filled"
    assert Decimal(order["filled_quantity"]) == 1
    trades = await _trades(container)
    assert [(t.order_id, t.price) for t in trades] == [(placed["id"], Decimal("3498.0"))]
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    assert Decimal(position["quantity"]) == 1


async def test_a_cancel_that_a_fill_overtook_is_409_not_a_filled_200(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fill lands after the cancel found the order open and before the gateway hears the
    cancel: the order is filled, and the cancel says it could not cancel it."""
    trader = await make_account()
    placed = await resting_buy(client, container, trader.headers, price="3499.0")
    market = container.trading.market
    ask_gateway = market.request_cancel

    async def filled_first(vt_orderid: str) -> None:
        await quote(container, IF, last="3498.0", bid="3497.8", ask="3498.0")
        await ask_gateway(vt_orderid)

    monkeypatch.setattr(market, "request_cancel", filled_first)
    cancel = await client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=trader.headers)
    assert cancel.status_code == 409, cancel.text
    assert cancel.json()["error"] == "order_not_cancellable"
    assert cancel.json()["detail"] == f"order {placed['id']} is filled"
    order = (await client.get(f"/api/v1/orders/{placed['id']}", headers=trader.headers)).json()
    assert (order["status"], order["filled_quantity"]) == ("filled", "1.00000000")


async def test_a_cancel_that_wins_is_200_cancelled(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    placed = await resting_buy(client, container, trader.headers, price="3499.0")
    cancel = await client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=trader.headers)
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "cancelled"


async def test_a_replayed_fill_is_counted_once(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    body = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 2}
    placed = (await client.post("/api/v1/orders", json=body, headers=trader.headers)).json()
    await settle(container)
    [trade] = await _trades(container)
    async with container.database.session() as session:
        order = await session.get(Order, placed["id"])
        assert order is not None
        assert order.vt_orderid is not None
        vt_orderid = order.vt_orderid
    fill = TradeFill(
        vt_tradeid=trade.vt_tradeid,
        vt_orderid=vt_orderid,
        symbol=IF,
        gateway="PAPER",
        side=OrderSide.BUY,
        price=trade.price,
        quantity=trade.quantity,
        commission=trade.commission,
        trade_time=trade.trade_time,
    )
    # The same fill delivered twice more (a gateway replaying after a reconnect).
    await container.trading.events.on_event(fill)
    await container.trading.events.on_event(replace(fill))
    await settle(container)
    assert len(await _trades(container)) == 1
    order_view = (await client.get(f"/api/v1/orders/{placed['id']}", headers=trader.headers)).json()
    assert Decimal(order_view["filled_quantity"]) == 2
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    assert Decimal(position["quantity"]) == 2
    account = (await client.get("/api/v1/account", headers=trader.headers)).json()
    assert Decimal(account["balance"]) == Decimal(10_000_000) - Decimal("210.012")


async def test_restart_rejects_orders_the_gateway_lost(
    container: AppContainer, make_account: MakeAccount, make_config: Callable[..., AppConfig]
) -> None:
    trader = await make_account()
    replica = f"crashed-{uuid.uuid4().hex[:6]}"
    async with container.database.session() as session:
        for status, vt_orderid in (
            (OrderStatus.PENDING, None),  # crashed before reaching the gateway
            (OrderStatus.SUBMITTED, "PAPER.gone-1"),  # the old process's paper book is gone
            (OrderStatus.PARTIALLY_FILLED, "PAPER.gone-2"),
        ):
            session.add(
                Order(
                    user_id=trader.id,
                    symbol=IF,
                    side=OrderSide.BUY,
                    order_type=OrderType.LIMIT,
                    quantity=Decimal(2),
                    price=Decimal("3400.0"),
                    status=status,
                    filled_quantity=Decimal(1 if vt_orderid == "PAPER.gone-2" else 0),
                    client_order_id=uuid.uuid4().hex,
                    vt_orderid=vt_orderid,
                    gateway="PAPER",
                    replica=replica,
                )
            )
    restarted = create_app(make_config(replica_id=replica))
    async with (
        restarted.router.lifespan_context(restarted),
        container.database.session() as session,
    ):
        rows = (await session.scalars(select(Order).where(Order.replica == replica))).all()
        assert {(row.status, row.reject_reason) for row in rows} == {
            (OrderStatus.REJECTED, "lost_on_restart")
        }
        open_orders = await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.status.in_(["pending", "submitted", "partially_filled"]))
        )
        assert open_orders == 0


async def test_a_price_the_gateway_cannot_carry_is_422_and_stores_nothing(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    # 18 significant digits: a vnpy float would silently turn it into 1e16.
    body = {
        "symbol": "BTCUSDT.GLOBAL",
        "side": "BUY",
        "order_type": "limit",
        "quantity": "0.001",
        "price": "9999999999999999.99",
    }
    response = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert response.status_code == 422
    assert [error["type"] for error in response.json()["detail"]] == ["not_representable"]
    async with container.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_a_key_whose_request_died_replays_the_reconciled_order(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    make_config: Callable[..., AppConfig],
) -> None:
    trader = await make_account()
    replica = f"crashed-{uuid.uuid4().hex[:6]}"
    body = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": "1", "price": "3400"}
    fingerprint = request_fingerprint(OrderCreate.model_validate(body).model_dump())
    # What a crash between committing the pending order and answering leaves behind.
    async with container.database.session() as session:
        order = Order(
            user_id=trader.id,
            symbol=IF,
            side=OrderSide.BUY,
            order_type=OrderType.LIMIT,
            quantity=Decimal(1),
            price=Decimal(3400),
            status=OrderStatus.PENDING,
            client_order_id=uuid.uuid4().hex,
            gateway="PAPER",
            replica=replica,
        )
        session.add(order)
        await session.flush()
        session.add(
            IdempotencyKey(
                user_id=trader.id,
                key="died-in-flight",
                request_hash=fingerprint,
                order_id=order.id,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    headers = {**trader.headers, "Idempotency-Key": "died-in-flight"}
    before = await client.post("/api/v1/orders", json=body, headers=headers)
    assert before.status_code == 409  # still in flight as far as anyone can tell
    restarted = create_app(make_config(replica_id=replica))
    async with restarted.router.lifespan_context(restarted):
        pass
    retry = await client.post("/api/v1/orders", json=body, headers=headers)
    assert retry.status_code == 201
    assert retry.json()["id"] == order.id
    assert (retry.json()["status"], retry.json()["reject_reason"]) == (
        "rejected",
        "lost_on_restart",
    )
