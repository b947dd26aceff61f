"""Backtests over REST: upload CSV, poll until finished, read statistics, trades and the chart."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from backend.core.container import AppContainer
from backend.models.backtest import Backtest
from backend.models.enums import BacktestStatus, UserRole
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.synthetic import random_walk_bars
from tests.api.conftest import Account, MakeAccount

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PARAMETERS = {"fast_window": 5, "slow_window": 12, "warmup_ticks": 20, "order_type": "limit"}
SETTINGS = {"capital": "100000", "rate": "0.0001", "slippage": "0.5", "size": "10",
            "pricetick": "0.5"}  # fmt: skip


def to_csv(bars: BarSeries) -> bytes:
    lines = ["datetime,open,high,low,close,volume"]
    for row in zip(bars.datetimes, bars.open, bars.high, bars.low, bars.close, bars.volume,
                   strict=True):  # fmt: skip
        lines.append(",".join([row[0].isoformat(), *(str(value) for value in row[1:])]))
    return ("\n".join(lines) + "\n").encode()


CSV = to_csv(random_walk_bars(3000, seed=11))


async def post_backtest(
    client: httpx.AsyncClient, account: Account, content: bytes = CSV, **fields: Any
) -> httpx.Response:
    data = {"class_name": "MovingAverageStrategy", "symbol": "rb2501.SHFE",
            "parameters": json.dumps(PARAMETERS), "settings": json.dumps(SETTINGS)}  # fmt: skip
    data.update(fields)
    files = {"file": ("bars.csv", content, "text/csv")}
    return await client.post("/api/v1/backtests", data=data, files=files, headers=account.headers)


async def wait_finished(client: httpx.AsyncClient, account: Account, backtest_id: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = await client.get(f"/api/v1/backtests/{backtest_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("finished", "failed"):
            return body
        await asyncio.sleep(0.05)  # polling interval, not synchronisation: the deadline bounds it
    raise AssertionError(f"backtest {backtest_id} did not finish in time")


async def test_csv_backtest_runs_to_statistics_trades_and_a_chart(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    response = await post_backtest(client, trader)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "queued"
    body = await wait_finished(client, trader, accepted["id"])
    assert body["status"] == "finished", body["error"]
    assert body["bar_count"] == 3000
    assert body["parameters"]["order_type"] == "limit"
    statistics = body["statistics"]
    assert statistics["total_trade_count"] == body["trade_count"] > 10
    for key in ("total_return", "annual_return", "max_drawdown", "max_ddpercent", "sharpe_ratio",
                "return_drawdown_ratio", "total_commission", "total_slippage"):  # fmt: skip
        assert key in statistics
    trade = body["trades"][0]
    assert set(trade) == {"trade_time", "side", "price", "quantity", "commission", "slippage",
                          "order_id"}  # fmt: skip
    assert body["daily"][-1]["balance"] == statistics["end_balance"]
    chart = await client.get(f"/api/v1/backtests/{accepted['id']}/equity.png",
                             headers=trader.headers)  # fmt: skip
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(PNG_SIGNATURE)
    listing = await client.get("/api/v1/backtests", headers=trader.headers)
    assert [item["id"] for item in listing.json()["items"]] == [accepted["id"]]
    assert "trades" not in listing.json()["items"][0]


async def test_backtests_are_owner_scoped_and_viewers_read_only(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    owner, other = await make_account(), await make_account()
    viewer = await make_account(role=UserRole.VIEWER)
    backtest_id = (await post_backtest(client, owner)).json()["id"]
    await wait_finished(client, owner, backtest_id)
    for account in (other, viewer):
        for path in (f"/api/v1/backtests/{backtest_id}",
                     f"/api/v1/backtests/{backtest_id}/equity.png"):  # fmt: skip
            response = await client.get(path, headers=account.headers)
            assert response.status_code == 404
            assert response.json()["error"] == "backtest_not_found"
        listing = await client.get("/api/v1/backtests", headers=account.headers)
        assert listing.json()["total"] == 0
    refused = await post_backtest(client, viewer)
    assert refused.status_code == 403
    assert refused.json()["error"] == "read_only"
    anonymous = await client.get(f"/api/v1/backtests/{backtest_id}")
    assert anonymous.status_code == 401


async def test_bad_csv_is_422_with_the_line_number(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    lines = CSV.decode().splitlines()
    lines[41] = lines[41].replace(",", ",-", 1)  # a negative open on line 42
    response = await post_backtest(client, trader, "\n".join(lines).encode())
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_bar_data"
    assert response.json()["detail"].startswith("line 42: open -")
    missing = await post_backtest(client, trader, b"datetime,open,high,low,close\n")
    assert missing.json()["detail"] == "line 1: missing column(s) volume"
    listing = await client.get("/api/v1/backtests", headers=trader.headers)
    assert listing.json()["total"] == 0


async def test_bad_requests_are_422(client: httpx.AsyncClient, make_account: MakeAccount) -> None:
    trader = await make_account()
    unknown = await post_backtest(client, trader, class_name="os.system")
    assert unknown.json()["error"] == "unknown_strategy_class"
    bad = await post_backtest(client, trader, parameters=json.dumps({"fast_window": 0}))
    assert bad.json()["error"] == "invalid_strategy_parameters"
    costs = await post_backtest(client, trader, settings=json.dumps({"rate": "-1"}))
    assert costs.status_code == 422
    assert costs.json()["detail"][0]["loc"] == ["body", "settings", "rate"]
    no_file = await client.post("/api/v1/backtests", data={"class_name": "x"},
                                files={"other": ("a", b"b")}, headers=trader.headers)  # fmt: skip
    assert no_file.json()["detail"][0]["loc"] == ["body", "file"]
    ticks = await client.post(
        "/api/v1/backtests", headers=trader.headers,
        json={"source": "ticks", "class_name": "MovingAverageStrategy", "symbol": "rb2501.SHFE",
              "start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"},
    )  # fmt: skip
    assert ticks.status_code == 422
    assert ticks.json()["error"] == "no_stored_ticks"


async def test_chart_is_409_until_finished(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    trader = await make_account()
    async with container.database.session() as session:
        backtest = Backtest(
            user_id=trader.id, status=BacktestStatus.RUNNING, class_name="MovingAverageStrategy",
            symbol="rb2501.SHFE", source="csv", parameters={}, settings={}, bar_count=1,
            trade_count=0, replica="elsewhere",
        )  # fmt: skip
        session.add(backtest)
        await session.flush()
        backtest_id = backtest.id
    response = await client.get(f"/api/v1/backtests/{backtest_id}/equity.png",
                                headers=trader.headers)  # fmt: skip
    assert response.status_code == 409
    assert response.json()["error"] == "backtest_not_finished"
    body = (await client.get(f"/api/v1/backtests/{backtest_id}", headers=trader.headers)).json()
    assert (body["status"], body["statistics"], body["trades"]) == ("running", None, None)


async def test_size_and_price_tick_default_to_the_listed_contracts(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """A backtest of rb2501.SHFE books 10 per point, as trading it does, unless told otherwise."""
    trader = await make_account()
    costs = {"capital": "100000", "rate": "0.0001", "slippage": "0.5"}
    contract = {**costs, "size": "10", "pricetick": "1"}
    runs = {
        "defaulted": await post_backtest(client, trader, settings=json.dumps(costs)),
        "explicit": await post_backtest(client, trader, settings=json.dumps(contract)),
        "unlisted": await post_backtest(
            client, trader, symbol="XYZ.LOCAL", settings=json.dumps(costs)
        ),
    }
    done = {name: await wait_finished(client, trader, runs[name].json()["id"]) for name in runs}
    assert {name: body["status"] for name, body in done.items()} == dict.fromkeys(runs, "finished")
    defaulted, explicit, unlisted = done["defaulted"], done["explicit"], done["unlisted"]
    assert (defaulted["settings"]["size"], defaulted["settings"]["pricetick"]) == ("10", "1")
    assert defaulted["statistics"] == explicit["statistics"]
    assert defaulted["trades"] == explicit["trades"]
    assert (unlisted["settings"]["size"], unlisted["settings"]["pricetick"]) == ("1", "0")
    assert unlisted["statistics"]["total_net_pnl"] != defaulted["statistics"]["total_net_pnl"]
