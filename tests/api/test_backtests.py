"""Backtests over REST: upload CSV, poll until finished, read statistics, trades and the chart."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from backend.app.container import AppContainer
from backend.models.backtest import Backtest
from backend.models.enums import BacktestStatus, UserRole
from backend.schemas.backtests import BacktestCreate
from backend.services.backtest.bars import BarSeries, parse_csv_bars
from backend.services.backtest.daily import CostModel
from backend.services.backtest.service import (
    BacktestJob,
    BacktestService,
    TooManyQueuedBacktestsError,
)
from backend.services.backtest.statistics import RatioSettings
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.strategy.classes import BUILTIN_SOURCE, redfire_entry
from tests.api.conftest import Account, MakeAccount
from tests.api.locks import wait_until_blocked
from tests.services.strategy.support import DecimalTroubleStrategy, NoParameters

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


def backtest_row(user_id: int, status: BacktestStatus, **fields: Any) -> Backtest:
    """A backtest row as a replica stored it (a one-bar CSV run of MovingAverageStrategy on
    another replica), with `fields` changed."""
    values: dict[str, Any] = {
        "class_name": "MovingAverageStrategy", "symbol": "rb2501.SHFE", "source": "csv",
        "parameters": {}, "settings": {}, "bar_count": 1, "trade_count": 0,
        "replica": "elsewhere",
    }  # fmt: skip
    return Backtest(user_id=user_id, status=status, **{**values, **fields})


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
        backtest = backtest_row(trader.id, BacktestStatus.RUNNING)
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
    assert (defaulted["settings"]["size"], defaulted["settings"]["pricetick"]) == (
        "10.00000000", "1.00000000",
    )  # fmt: skip
    assert defaulted["statistics"] == explicit["statistics"]
    assert defaulted["trades"] == explicit["trades"]
    assert (unlisted["settings"]["size"], unlisted["settings"]["pricetick"]) == (
        "1.00000000", "0.00000000",
    )  # fmt: skip
    assert unlisted["statistics"]["total_net_pnl"] != defaulted["statistics"]["total_net_pnl"]


EIGHT_PLACES = re.compile(r"^-?\d+\.\d{8}$")
INTEGER_STATISTICS = {"total_days", "profit_days", "loss_days", "max_drawdown_duration",
                      "total_trade_count"}  # fmt: skip


async def test_every_number_is_a_decimal_string_at_8_places_and_counts_are_integers(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """Trades showed "3475.8" and the ratios were floats beside decimal strings."""
    trader = await make_account()
    body = await wait_finished(client, trader, (await post_backtest(client, trader)).json()["id"])
    assert body["status"] == "finished", body["error"]
    for trade in body["trades"]:
        for key in ("price", "quantity", "commission", "slippage"):
            assert EIGHT_PLACES.match(trade[key]), (key, trade[key])
    for key, value in body["statistics"].items():
        if key in INTEGER_STATISTICS:
            assert type(value) is int, key
        elif key not in ("start_date", "end_date"):
            assert EIGHT_PLACES.match(str(value)), (key, value)  # a string: str(0.5) is "0.5"
    for row in body["daily"]:
        assert type(row["trade_count"]) is int
        for key, value in row.items():
            if key not in ("date", "trade_count"):
                assert EIGHT_PLACES.match(str(value)), (key, value)
    for key in ("capital", "rate", "slippage", "size", "pricetick"):
        assert EIGHT_PLACES.match(body["settings"][key]), key


async def test_rate_defaults_to_the_paper_commission_rate_on_paper_contracts(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    trader = await make_account()
    paper_rate = container.config.vnpy.paper_commission_rate
    costs = json.dumps({"capital": "100000"})
    listed = await post_backtest(client, trader, settings=costs)
    unlisted = await post_backtest(client, trader, symbol="XYZ.LOCAL", settings=costs)
    listed_body = await wait_finished(client, trader, listed.json()["id"])
    unlisted_body = await wait_finished(client, trader, unlisted.json()["id"])
    # rb2501.SHFE trades on PAPER, whose fills are charged VNPY__PAPER_COMMISSION_RATE.
    assert Decimal(listed_body["settings"]["rate"]) == paper_rate > 0
    assert listed_body["statistics"]["total_commission"] != "0.00000000"
    assert listed_body["settings"]["slippage"] == "0.00000000"
    assert unlisted_body["settings"]["rate"] == "0.00000000"
    assert unlisted_body["statistics"]["total_commission"] == "0.00000000"


async def test_the_chart_is_drawn_once_kept_and_served_with_a_validator(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    trader = await make_account()
    backtest_id = (await post_backtest(client, trader)).json()["id"]
    assert (await wait_finished(client, trader, backtest_id))["status"] == "finished"
    async with container.database.session() as session:
        stored = await session.scalar(select(Backtest.equity_png).where(Backtest.id == backtest_id))
    assert stored is not None  # drawn as it finished
    assert stored.startswith(PNG_SIGNATURE)

    url = f"/api/v1/backtests/{backtest_id}/equity.png"
    first = await client.get(url, headers=trader.headers)
    assert first.status_code == 200
    assert first.content == stored
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    assert "private" in first.headers["cache-control"]
    again = await client.get(url, headers={**trader.headers, "If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    other = await client.get(url, headers={**trader.headers, "If-None-Match": '"stale"'})
    assert (other.status_code, other.content) == (200, stored)


async def test_bars_at_the_ends_of_the_calendar_chart(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """Bars dated near 9999-12-31 made GET .../equity.png a 500 (matplotlib's date range)."""
    trader = await make_account()
    last_two_days = random_walk_bars(2 * 1440, seed=11, start=datetime(9999, 12, 30, tzinfo=UTC))
    assert last_two_days.datetimes[-1] == datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    first_days = random_walk_bars(3000, seed=11, start=datetime(1, 1, 1, tzinfo=UTC))
    for bars in (last_two_days, first_days):
        response = await post_backtest(client, trader, to_csv(bars))
        assert response.status_code == 202, response.text
        body = await wait_finished(client, trader, response.json()["id"])
        assert body["status"] == "finished", body["error"]
        chart = await client.get(f"/api/v1/backtests/{body['id']}/equity.png",
                                 headers=trader.headers)  # fmt: skip
        assert chart.status_code == 200
        assert chart.content.startswith(PNG_SIGNATURE)


async def test_a_backtest_finished_before_charts_were_kept_is_drawn_once_on_request(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    trader = await make_account()
    daily = [{"date": "9999-12-30", "balance": "994.00000000"},
             {"date": "9999-12-31", "balance": "1014.00000000"}]  # fmt: skip
    async with container.database.session() as session:
        backtest = backtest_row(
            trader.id, BacktestStatus.FINISHED, settings={"capital": "1000"}, bar_count=2,
            statistics={}, trades=[], daily=daily,
        )  # fmt: skip
        session.add(backtest)
        await session.flush()
        backtest_id = backtest.id
    chart = await client.get(f"/api/v1/backtests/{backtest_id}/equity.png", headers=trader.headers)
    assert chart.status_code == 200
    async with container.database.session() as session:
        stored = await session.scalar(select(Backtest.equity_png).where(Backtest.id == backtest_id))
    assert stored == chart.content


async def test_a_user_may_have_only_so_many_backtests_queued_or_running(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    trader, other = await make_account(), await make_account()
    limit = container.config.backtest.max_queued_per_user
    async with container.database.session() as session:
        waiting = [
            backtest_row(trader.id, status)
            for status in [BacktestStatus.RUNNING] + [BacktestStatus.QUEUED] * (limit - 1)
        ]
        session.add_all(waiting)
    refused = await post_backtest(client, trader)
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_queued_backtests"
    assert "BACKTEST__MAX_QUEUED_PER_USER" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) > 0
    listing = await client.get("/api/v1/backtests", headers=trader.headers)
    assert listing.json()["total"] == limit  # nothing stored
    # Another user is not held up; one finished run frees a place.
    assert (await post_backtest(client, other)).status_code == 202
    async with container.database.session() as session:
        await session.execute(
            update(Backtest)
            .where(Backtest.id == waiting[0].id)
            .values(status=BacktestStatus.FINISHED)
        )
    assert (await post_backtest(client, trader)).status_code == 202


async def test_a_failed_backtest_says_what_failed_and_where(
    client: httpx.AsyncClient, make_account: MakeAccount, container: AppContainer
) -> None:
    """It stored `InvalidOperation: [<class 'decimal.InvalidOperation'>]`."""
    trader = await make_account()
    bars = parse_csv_bars(CSV, symbol="rb2501.SHFE", max_bars=10_000)
    async with container.database.session() as session:
        backtest = backtest_row(
            trader.id, BacktestStatus.QUEUED, class_name="DecimalTroubleStrategy",
            bar_count=3000, replica=container.config.replica_id,
        )  # fmt: skip
        session.add(backtest)
        await session.flush()
        backtest_id = backtest.id
    entry = redfire_entry(DecimalTroubleStrategy, BUILTIN_SOURCE)
    job = BacktestJob(backtest_id, entry, NoParameters(), bars, CostModel(), RatioSettings(),
                      max_stored_trades=10)  # fmt: skip
    container.backtests.submit(job)
    body = await wait_finished(client, trader, backtest_id)
    assert body["status"] == "failed"
    third = bars.datetimes[2].isoformat()
    assert body["error"] == (
        f"line 4, bar 3 ({third}): DecimalTroubleStrategy failed: "
        "a decimal division with no defined result (0/0)"
    )


async def test_amounts_too_large_for_twenty_digits_finish(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """Within every input bound, yet it failed with the decimal module's repr as its error."""
    trader = await make_account()
    settings = {"capital": "1000000000000000", "rate": "0.5", "size": "9999999999999999",
                "pricetick": "0.5"}  # fmt: skip
    bars = random_walk_bars(3000, seed=11, start_price=Decimal("1000000000000000"))
    response = await post_backtest(client, trader, to_csv(bars), settings=json.dumps(settings))
    body = await wait_finished(client, trader, response.json()["id"])
    assert body["status"] == "finished", body["error"]
    assert EIGHT_PLACES.match(body["trades"][0]["commission"])


async def test_two_submissions_at_once_cannot_both_take_the_last_place(
    make_account: MakeAccount, container: AppContainer
) -> None:
    """The count is read holding the user's row (PostgreSQL; SQLite's writers take turns)."""
    trader = await make_account()
    limit = container.config.backtest.max_queued_per_user
    service = BacktestService(
        registry=container.strategies.registry, contracts=container.trading.market.get_contract,
        replica="here", max_stored_trades=10, max_queued_per_user=limit,
        paper_commission_rate=Decimal(0),
    )  # fmt: skip
    request = BacktestCreate(class_name="MovingAverageStrategy", symbol="rb2501.SHFE")
    bars = random_walk_bars(10)
    for _ in range(limit - 1):
        async with container.database.session() as session:
            await service.create(session, user_id=trader.id, request=request, bars=bars)

    async def submit() -> None:
        async with container.database.session() as session:
            await service.create(session, user_id=trader.id, request=request, bars=bars)

    async with container.database.session() as first:
        await service.create(first, user_id=trader.id, request=request, bars=bars)
        second = asyncio.create_task(submit())
        if not container.config.database.is_sqlite:
            await wait_until_blocked(container.database)
    with pytest.raises(TooManyQueuedBacktestsError):
        await second
    async with container.database.session() as session:
        mine = select(func.count()).select_from(Backtest).where(Backtest.user_id == trader.id)
        assert await session.scalar(mine) == limit
