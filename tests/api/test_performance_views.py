"""Performance views: PnL by symbol and strategy, the kept day book, the summary, ranges."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlalchemy import delete, select, update

from backend.app.container import AppContainer
from backend.models.account import AccountDay
from backend.models.order import Order, Trade
from tests.api.conftest import MakeAccount
from tests.api.performance import fill
from tests.api.trading import quote

IF, RB = "IF2412.CFFEX", "rb2501.SHFE"
DAY_1 = datetime(2026, 11, 30, 10, tzinfo=UTC)
DAY_2 = datetime(2026, 12, 1, 10, tzinfo=UTC)


async def _market(container: AppContainer) -> None:
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    await quote(container, RB, last="3300", bid="3300", ask="3301")


async def test_pnl_by_symbol_and_by_strategy_add_up(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, other = await make_account(), await make_account()
    await _market(container)
    created = await client.post(
        "/api/v1/strategies",
        json={"name": "ma", "class_name": "MovingAverageStrategy", "symbol": IF},
        headers=trader.headers,
    )
    assert created.status_code == 201, created.text
    strategy_id = created.json()["id"]
    await fill(client, container, trader, symbol=IF, side="BUY", quantity="2", price="3500")
    await fill(client, container, trader, symbol=IF, side="SELL", quantity="1", price="3510",
               commission="1.5", strategy_id=strategy_id)  # fmt: skip
    await quote(container, IF, last="3520.0", bid="3520.0", ask="3520.2")

    by_symbol = (await client.get("/api/v1/pnl", headers=trader.headers)).json()
    # The account: long 2 at 3500, 1 sold at 3510 (+3000), 1 left marked at 3520 (+6000)
    assert by_symbol == [
        {"symbol": IF, "strategy_id": None, "quantity": "1.00000000",
         "realized_pnl": "3000.00000000", "unrealized_pnl": "6000.00000000",
         "commission": "1.50000000", "net_pnl": "8998.50000000", "trade_count": 2},
    ]  # fmt: skip
    by_strategy = await client.get("/api/v1/pnl", params={"by": "strategy"}, headers=trader.headers)
    # Each on its own book: by hand long 2 (+12000 at 3520), the strategy short 1 (-3000)
    assert by_strategy.json() == [
        {"symbol": IF, "strategy_id": None, "quantity": "2.00000000",
         "realized_pnl": "0.00000000", "unrealized_pnl": "12000.00000000",
         "commission": "0.00000000", "net_pnl": "12000.00000000", "trade_count": 1},
        {"symbol": IF, "strategy_id": strategy_id, "quantity": "-1.00000000",
         "realized_pnl": "0.00000000", "unrealized_pnl": "-3000.00000000",
         "commission": "1.50000000", "net_pnl": "-3001.50000000", "trade_count": 1},
    ]  # fmt: skip
    assert (await client.get("/api/v1/pnl", headers=other.headers)).json() == []
    refused = await client.get("/api/v1/pnl", params={"by": "day"}, headers=trader.headers)
    assert refused.status_code == 422, refused.text


async def test_the_day_book_is_kept_as_fills_are_booked(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, other = await make_account(), await make_account()
    await _market(container)
    await fill(client, container, trader, symbol=RB, side="BUY", quantity="2", price="3300",
               commission="2", at=DAY_1)  # fmt: skip
    await fill(client, container, trader, symbol=RB, side="SELL", quantity="1", price="3350",
               commission="1", at=DAY_2)  # fmt: skip
    await fill(client, container, trader, symbol=RB, side="SELL", quantity="1", price="3280",
               commission="1", at=DAY_2)  # fmt: skip
    expected = {
        "currency": "CNY",
        "initial_balance": "10000000",
        "days": [
            {"date": "2026-11-30", "realized_pnl": "0.00000000", "commission": "2.00000000",
             "net_pnl": "-2.00000000", "trade_count": 1, "balance": "9999998.00000000"},
            # +500 and -200 on rebar (size 10), 2 of commission
            {"date": "2026-12-01", "realized_pnl": "300.00000000", "commission": "2.00000000",
             "net_pnl": "298.00000000", "trade_count": 2, "balance": "10000296.00000000"},
        ],
    }  # fmt: skip
    history = await client.get("/api/v1/account/history", headers=trader.headers)
    assert history.json() | {"initial_balance": "10000000"} == expected, history.text
    assert Decimal(history.json()["initial_balance"]) == 10_000_000
    # Kept, not recomputed: the rows stay as booked without the trades behind them.
    async with container.database.session() as session:
        await session.execute(delete(Trade).where(Trade.user_id == trader.id))
        await session.commit()
        stored = (await session.scalars(select(AccountDay.day).where(
            AccountDay.user_id == trader.id))).all()  # fmt: skip
    assert len(stored) == 2
    again = await client.get("/api/v1/account/history", headers=trader.headers)
    assert again.json()["days"] == expected["days"]

    one_day = await client.get(
        "/api/v1/account/history", params={"start": "2026-12-01", "end": "2026-12-02"},
        headers=trader.headers,
    )  # fmt: skip
    assert [day["date"] for day in one_day.json()["days"]] == ["2026-12-01"]
    for params in ({"start": "2026-12-02", "end": "2026-12-01"}, {"start": "yesterday"},
                   {"end": "5.960464477539063e-08"}):  # fmt: skip
        refused = await client.get("/api/v1/account/history", params=params, headers=trader.headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "validation_error"
    assert (await client.get("/api/v1/account/history", headers=other.headers)).json()["days"] == []


async def test_summary_counts_round_trips_wins_and_drawdown(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await _market(container)
    empty = (await client.get("/api/v1/account/summary", headers=trader.headers)).json()
    assert (empty["trade_count"], empty["round_trips"], empty["win_rate"]) == (0, 0, None)
    trades = [
        (IF, "BUY", "3500", "0"), (IF, "SELL", "3510", "0"),  # +3000
        (IF, "BUY", "3510", "0"), (IF, "SELL", "3490", "0"),  # -6000
        (RB, "BUY", "3300", "0"), (RB, "SELL", "3350", "1"),  # +500 - 1
        (RB, "SELL", "3300", "0"),  # opens a short, still open
    ]  # fmt: skip
    for symbol, side, price, commission in trades:
        await fill(client, container, trader, symbol=symbol, side=side, quantity="1",
                   price=price, commission=commission)  # fmt: skip
    await quote(container, RB, last="3290", bid="3290", ask="3291")
    summary = (await client.get("/api/v1/account/summary", headers=trader.headers)).json()
    peak = Decimal(10_003_000)
    assert summary | {"first_trade_time": None, "last_trade_time": None} == {
        "currency": "CNY",
        "trade_count": 7,
        "first_trade_time": None,
        "last_trade_time": None,
        "round_trips": 3,
        "winning_round_trips": 2,
        "losing_round_trips": 1,
        "win_rate": "0.66666667",
        "profit_factor": "0.58316667",  # (3000 + 499) / 6000
        "best_round_trip": "3000.00000000",
        "worst_round_trip": "-6000.00000000",
        "realized_pnl": "-2500.00000000",
        "unrealized_pnl": "100.00000000",  # short 1 rebar from 3300, marked at 3290
        "commission": "1.00000000",
        "net_pnl": "-2401.00000000",
        "balance": "9997499.00000000",
        "max_drawdown": "6000.00000000",  # from 10003000 after the first trip
        "max_drawdown_pct": str((6000 / peak * 100).quantize(Decimal("0.00000001"))),
    }
    assert summary["first_trade_time"] is not None


async def test_orders_and_trades_filtered_by_date_range(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await _market(container)
    old = await fill(client, container, trader, symbol=RB, side="BUY", quantity="1",
                     price="3300", at=DAY_1)  # fmt: skip
    await fill(client, container, trader, symbol=RB, side="SELL", quantity="1", price="3310",
               at=DAY_2)  # fmt: skip
    async with container.database.session() as session:
        await session.execute(update(Order).where(Order.id == old).values(created_at=DAY_1))
        await session.commit()
    headers = trader.headers

    async def listed(path: str, **params: str) -> list[str]:
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["side"] for item in response.json()["items"]]

    assert await listed("/api/v1/trades", start="2026-12-01T00:00:00Z") == ["SELL"]
    assert await listed("/api/v1/trades", end="2026-12-01T00:00:00") == ["BUY"]  # naive: UTC
    assert await listed("/api/v1/trades", start="2026-11-30", end="2026-11-30T10:00:00Z") == []
    assert await listed("/api/v1/orders", end="2026-12-01T00:00:00Z") == ["BUY"]
    assert await listed("/api/v1/orders", start="2026-12-01T00:00:00Z") == ["SELL"]
    for path in ("/api/v1/orders", "/api/v1/trades"):
        for params in ({"start": "2026-12-02", "end": "2026-12-01"}, {"start": "soon"},
                       {"end": "1900-01-01T00:00:00Z"}, {"end": "0.0"},
                       {"start": "1e9"}):  # fmt: skip
            refused = await client.get(path, params=params, headers=headers)
            assert refused.status_code == 422, (path, params, refused.text)
            assert refused.json()["error"] == "validation_error"
