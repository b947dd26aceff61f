"""Strategy files in a configured directory (STRATEGY__PATHS), over REST.

A vnpy CTA strategy that is not part of the repository, written to a temporary directory,
is listed by GET /strategies/classes and backtests through POST /backtests with exactly the
trades and statistics of vnpy's own BacktestingEngine. Files that do not import and classes
that break the rules are listed unavailable with the reason, and refused with it; a strategy
that raises fails its own backtest with a clear message and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.core.config import AppConfig
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.synthetic import random_walk_bars
from bench.cta_reference import prepare_cta, run_cta, statistics_differences, vnpy_cta_trades
from tests.api.conftest import Account, MakeAccount
from tests.api.stream import container_of, started_app

RSI_FILE = '''
from vnpy_ctastrategy import ArrayManager, CtaTemplate


class FileRsiStrategy(CtaTemplate):
    """RSI swings: limit entries at the close, stop and limit exits."""

    rsi_window: int = 14
    level: float = 15.0
    stop_ticks: int = 8
    fixed_size: int = 2
    rsi: float = 0.0
    parameters = ["rsi_window", "level", "stop_ticks", "fixed_size"]
    variables = ["rsi"]

    def on_init(self):
        self.am = ArrayManager(30)
        self.load_bar(1)

    def on_bar(self, bar):
        self.cancel_all()
        am = self.am
        am.update_bar(bar)
        if not am.inited:
            return
        self.rsi = am.rsi(self.rsi_window)
        tick = self.get_pricetick()
        if self.pos == 0:
            if self.rsi < 50 - self.level:
                self.buy(bar.close_price, self.fixed_size)
            elif self.rsi > 50 + self.level:
                self.short(bar.close_price, self.fixed_size)
        elif self.pos > 0:
            self.sell(bar.close_price - self.stop_ticks * tick, abs(self.pos), stop=True)
            if self.rsi > 50:
                self.sell(bar.close_price + tick, abs(self.pos))
        else:
            self.cover(bar.close_price + self.stop_ticks * tick, abs(self.pos), stop=True)
            if self.rsi < 50:
                self.cover(bar.close_price - tick, abs(self.pos))
'''
EXPLODING_FILE = '''
from vnpy_ctastrategy import CtaTemplate


class ExplodingCtaStrategy(CtaTemplate):
    """Raises in on_bar after `explode_at` bars."""

    explode_at: int = 50
    parameters = ["explode_at"]

    def on_init(self):
        self.seen = 0

    def on_bar(self, bar):
        self.seen += 1
        if self.seen >= self.explode_at:
            raise ZeroDivisionError("the strategy divided by zero")
'''
RULE_BREAKER_FILE = """
from vnpy_ctastrategy import CtaTemplate


class LevelsCtaStrategy(CtaTemplate):
    levels: dict = {"a": 1}
    parameters = ["levels"]

    def on_init(self):
        pass
"""

URL = "/api/v1"
BARS = random_walk_bars(4 * 1440, seed=17)
START = BARS.datetimes[0] + timedelta(days=1)
COSTS = CostModel(capital=Decimal(1_000_000), rate=Decimal("0.0001"), slippage=Decimal("0.5"),
                  size=Decimal(10), pricetick=Decimal("0.5"))  # fmt: skip
SETTINGS = {"capital": "1000000", "rate": "0.0001", "slippage": "0.5", "size": "10",
            "pricetick": "0.5", "start": START.isoformat()}  # fmt: skip


def to_csv(bars: BarSeries) -> bytes:
    lines = ["datetime,open,high,low,close,volume"]
    for row in zip(bars.datetimes, bars.open, bars.high, bars.low, bars.close, bars.volume,
                   strict=True):  # fmt: skip
        lines.append(",".join([row[0].isoformat(), *(str(value) for value in row[1:])]))
    return ("\n".join(lines) + "\n").encode()


CSV = to_csv(BARS)


@pytest.fixture(scope="module")
def strategy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("team-strategies")
    for name, text in (("rsi_swing.py", RSI_FILE), ("exploding.py", EXPLODING_FILE),
                       ("levels.py", RULE_BREAKER_FILE),
                       ("half_written.py", "def on_bar(self, bar)\n    pass\n")):  # fmt: skip
        (directory / name).write_text(textwrap.dedent(text))
    return directory


@pytest.fixture(scope="module")
async def files_app(
    make_config: Callable[..., AppConfig], strategy_dir: Path
) -> AsyncIterator[FastAPI]:
    """A replica configured with STRATEGY__PATHS, on the session's database."""
    async with started_app(
        make_config, strategy={"paths": [str(strategy_dir)]}, replica_id="strategy-files"
    ) as app:
        yield app


@pytest.fixture
async def files_client(files_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=files_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def post_backtest(
    client: httpx.AsyncClient, account: Account, class_name: str, **parameters: Any
) -> httpx.Response:
    data = {"class_name": class_name, "symbol": "rb2501.SHFE",
            "parameters": json.dumps(parameters), "settings": json.dumps(SETTINGS)}  # fmt: skip
    files = {"file": ("bars.csv", CSV, "text/csv")}
    return await client.post(f"{URL}/backtests", data=data, files=files, headers=account.headers)


async def finished(client: httpx.AsyncClient, account: Account, backtest_id: int) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = await client.get(f"{URL}/backtests/{backtest_id}", headers=account.headers)
        body: dict[str, Any] = response.json()
        if body["status"] in ("finished", "failed"):
            return body
        await asyncio.sleep(0.05)  # polling interval; the deadline bounds the wait
    raise AssertionError(f"backtest {backtest_id} did not finish in time")


async def test_a_cta_file_backtests_over_rest_exactly_as_vnpy(
    files_client: httpx.AsyncClient, files_app: FastAPI, make_account: MakeAccount
) -> None:
    trader = await make_account()
    listing = await files_client.get(f"{URL}/strategies/classes", headers=trader.headers)
    entry = {item["class_name"]: item for item in listing.json()}["FileRsiStrategy"]
    assert entry["available"], entry["reason"]
    assert entry["kind"] == "cta"
    assert entry["source"].endswith("rsi_swing.py")
    assert entry["variables"] == ["rsi"]
    assert entry["parameters"]["properties"]["level"] == {
        "default": 15.0, "title": "Level", "type": "number",
    }  # fmt: skip

    response = await post_backtest(files_client, trader, "FileRsiStrategy", fixed_size=3)
    assert response.status_code == 202, response.text
    body = await finished(files_client, trader, response.json()["id"])
    assert body["status"] == "finished", body["error"]
    assert body["parameters"] == {"rsi_window": 14, "level": 15.0, "stop_ticks": 8,
                                  "fixed_size": 3}  # fmt: skip

    strategy_class = container_of(files_app).strategies.registry.entry("FileRsiStrategy")
    assert strategy_class.strategy_class is not None
    vnpy_engine = prepare_cta(BARS, strategy_class.strategy_class, {"fixed_size": 3}, COSTS, START)
    statistics = run_cta(vnpy_engine)
    theirs = [
        (moment.isoformat(), "BUY" if direction == "LONG" else "SELL", offset.lower(),
         Decimal(repr(price)), Decimal(repr(volume)))
        for moment, direction, offset, price, volume in vnpy_cta_trades(vnpy_engine)
    ]  # fmt: skip
    ours = [
        (trade["trade_time"], trade["side"], trade["offset"], Decimal(trade["price"]),
         Decimal(trade["quantity"]))
        for trade in body["trades"]
    ]  # fmt: skip
    assert len(theirs) > 20
    assert {offset for _, _, offset, _, _ in theirs} == {"open", "close"}
    assert ours == theirs
    assert body["trade_count"] == len(theirs)
    assert statistics_differences(body["statistics"], statistics, ratio_tolerance=1e-8) == []


async def test_broken_files_and_rule_breakers_are_listed_and_refused_with_the_reason(
    files_client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    listing = await files_client.get(f"{URL}/strategies/classes", headers=trader.headers)
    classes = {item["class_name"]: item for item in listing.json()}
    broken = classes["half_written.py"]
    assert broken["available"] is False
    assert broken["kind"] is None
    assert broken["reason"] == "SyntaxError: expected ':' (line 1)"
    assert broken["source"].endswith("half_written.py")
    levels = classes["LevelsCtaStrategy"]
    assert (levels["available"], levels["kind"]) == (False, "cta")
    assert levels["reason"] == (
        "parameter 'levels' defaults to a dict; RedFire supports int, float, bool and str"
    )
    assert classes["FileRsiStrategy"]["available"]
    assert classes["DoubleMaStrategy"]["available"]

    refused = await post_backtest(files_client, trader, "LevelsCtaStrategy")
    assert refused.status_code == 422
    assert refused.json()["error"] == "strategy_class_unavailable"
    assert refused.json()["detail"] == f"LevelsCtaStrategy is unavailable: {levels['reason']}"
    created = await files_client.post(
        f"{URL}/strategies", headers=trader.headers,
        json={"name": "x", "class_name": "half_written.py", "symbol": "rb2501.SHFE"},
    )  # fmt: skip
    assert created.status_code == 422
    assert created.json()["detail"] == f"half_written.py is unavailable: {broken['reason']}"
    listed = await files_client.get(f"{URL}/backtests", headers=trader.headers)
    assert listed.json()["total"] == 0


async def test_a_strategy_that_raises_fails_only_its_own_backtest(
    files_client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    exploding = await post_backtest(files_client, trader, "ExplodingCtaStrategy", explode_at=30)
    healthy = await post_backtest(files_client, trader, "FileRsiStrategy")
    assert exploding.status_code == healthy.status_code == 202
    failed = await finished(files_client, trader, exploding.json()["id"])
    assert failed["status"] == "failed"
    moment = (START + timedelta(minutes=29)).isoformat()
    assert failed["error"] == (
        f"ExplodingCtaStrategy.on_bar at the bar of {moment} raised "
        "ZeroDivisionError: the strategy divided by zero"
    )
    assert failed["statistics"] is None
    done = await finished(files_client, trader, healthy.json()["id"])
    assert done["status"] == "finished", done["error"]
    assert done["trade_count"] > 20
    again = await post_backtest(files_client, trader, "FileRsiStrategy")
    assert (await finished(files_client, trader, again.json()["id"]))["status"] == "finished"
