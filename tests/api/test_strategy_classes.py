"""GET /strategies/classes lists RedFire's and vnpy's classes; create, update, start and
backtests check what they are given against the listed class."""

from __future__ import annotations

import json
from typing import Any

import httpx

from backend.services.backtest.synthetic import random_walk_bars
from tests.api.conftest import Account, MakeAccount
from tests.api.test_strategy_files import finished, to_csv

URL = "/api/v1/strategies"
CSV = to_csv(random_walk_bars(2000, seed=4))
SETTINGS = {"rate": "0.0001", "slippage": "0.5", "size": "10", "pricetick": "0.5"}


async def create(client: httpx.AsyncClient, account: Account, **body: Any) -> httpx.Response:
    payload = {"name": "cta", "class_name": "AtrRsiStrategy", "symbol": "rb2501.SHFE", **body}
    return await client.post(URL, json=payload, headers=account.headers)


async def backtest(
    client: httpx.AsyncClient,
    account: Account,
    class_name: str,
    symbol: str = "rb2501.SHFE",
    **settings: Any,
) -> httpx.Response:
    data = {"class_name": class_name, "symbol": symbol, "parameters": "{}",
            "settings": json.dumps({**SETTINGS, **settings})}  # fmt: skip
    files = {"file": ("bars.csv", CSV, "text/csv")}
    return await client.post("/api/v1/backtests", data=data, files=files, headers=account.headers)


async def test_the_listing_has_both_kinds_and_keeps_the_v1_fields(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    response = await client.get(f"{URL}/classes", headers=trader.headers)
    assert response.status_code == 200
    classes = {item["class_name"]: item for item in response.json()}
    assert [item["class_name"] for item in response.json()] == sorted(classes)
    moving_average = classes["MovingAverageStrategy"]
    assert set(moving_average) == {"class_name", "kind", "description", "available", "reason",
                                   "parameters", "variables", "source"}  # fmt: skip
    assert (moving_average["kind"], moving_average["source"]) == ("redfire", "builtin")
    assert (moving_average["available"], moving_average["reason"]) == (True, None)
    assert moving_average["variables"] == []
    atr_rsi = classes["AtrRsiStrategy"]
    assert (atr_rsi["kind"], atr_rsi["source"], atr_rsi["available"]) == (
        "cta", "vnpy_ctastrategy", True,
    )  # fmt: skip
    assert "RSI" in atr_rsi["description"]
    assert atr_rsi["variables"][:2] == ["atr_value", "atr_ma"]
    properties = atr_rsi["parameters"]["properties"]
    assert properties["atr_length"] == {"default": 22, "title": "Atr Length", "type": "integer"}
    assert properties["trailing_percent"]["type"] == "number"
    assert atr_rsi["parameters"]["additionalProperties"] is False
    assert {"DoubleMaStrategy", "TurtleSignalStrategy", "MultiSignalStrategy"} <= set(classes)


async def test_cta_parameters_are_validated_at_create_and_update(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    unknown = await create(client, trader, parameters={"atr_length": 30, "colour": "red"})
    assert unknown.status_code == 422
    assert unknown.json()["error"] == "invalid_strategy_parameters"
    assert [error["loc"] for error in unknown.json()["detail"]] == [["parameters", "colour"]]
    wrong = await create(client, trader, parameters={"atr_length": 2.5, "trailing_percent": "1"})
    assert {tuple(error["loc"]) for error in wrong.json()["detail"]} == {
        ("parameters", "atr_length"), ("parameters", "trailing_percent"),
    }  # fmt: skip
    assert (await client.get(URL, headers=trader.headers)).json()["total"] == 0

    created = await create(client, trader, parameters={"atr_length": 30, "trailing_percent": 1})
    assert created.status_code == 201, created.text
    stored = created.json()
    assert stored["parameters"] == {
        "atr_length": 30,
        "atr_ma_length": 10,
        "rsi_length": 5,
        "rsi_entry": 16,
        "trailing_percent": 1.0,
        "fixed_size": 1,
    }
    path = f"{URL}/{stored['id']}"
    bad = await client.patch(
        path, json={"parameters": {"fixed_size": True}}, headers=trader.headers
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["parameters", "fixed_size"]
    good = await client.patch(path, json={"parameters": {"fixed_size": 2}}, headers=trader.headers)
    assert good.json()["parameters"]["fixed_size"] == 2
    assert good.json()["parameters"]["atr_length"] == 22


async def test_a_shipped_vnpy_strategy_backtests_with_offsets(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    response = await backtest(client, trader, "DoubleMaStrategy")
    assert response.status_code == 202, response.text
    body = await finished(client, trader, response.json()["id"])
    assert body["status"] == "finished", body["error"]
    assert body["trade_count"] > 10
    assert {trade["offset"] for trade in body["trades"]} == {"open", "close"}
    assert body["statistics"]["total_trade_count"] == body["trade_count"]


async def test_cta_backtests_refuse_what_vnpy_cannot_run(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    exchange = await backtest(client, trader, "DoubleMaStrategy", symbol="ABC.NOWHERE")
    assert exchange.status_code == 422
    assert exchange.json()["error"] == "unknown_exchange"
    assert exchange.json()["detail"] == (
        "NOWHERE is not a vnpy exchange: a CTA strategy cannot trade ABC.NOWHERE"
    )
    late = await backtest(client, trader, "DoubleMaStrategy", start="2030-01-01T00:00:00")
    assert late.status_code == 422
    assert late.json()["error"] == "invalid_bar_data"
    assert late.json()["detail"] == "no bar at or after settings.start 2030-01-01 00:00:00+00:00"
    listing = await client.get("/api/v1/backtests", headers=trader.headers)
    assert listing.json()["total"] == 0
