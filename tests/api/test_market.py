"""Market data over HTTP: symbols, latest ticks (shared cache or local), admin tick injection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from backend.app.container import AppContainer
from backend.domain.market import DEPTH_FIELDS
from backend.models.enums import UserRole
from backend.services.stream.publisher import tick_cache_key
from tests.api.conftest import MakeAccount
from tests.api.trading import settle

IF = "IF2412.CFFEX"
RB = "rb2501.SHFE"


async def _published(container: AppContainer) -> None:
    """Wait until injected ticks are through the bridge and in the shared cache."""
    await settle(container)
    async with asyncio.timeout(5):
        await container.stream.publisher.flush()


async def test_symbols_lists_contracts_with_decimal_strings(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    viewer = await make_account(role=UserRole.VIEWER)
    response = await client.get("/api/v1/market/symbols", headers=viewer.headers)
    assert response.status_code == 200, response.text
    symbols = {item["symbol"]: item for item in response.json()}
    assert symbols[IF] == {
        "symbol": IF,
        "name": "CSI 300 index future 2412",
        "exchange": "CFFEX",
        "gateway": "PAPER",
        "price_tick": "0.2",
        "size": "300",
        "min_volume": "1",
    }
    assert symbols["BTCUSDT.GLOBAL"]["min_volume"] == "0.001"


@pytest.mark.parametrize("path", ["/api/v1/market/symbols", f"/api/v1/market/ticks/{IF}"])
async def test_market_data_needs_a_user(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


async def test_latest_tick_after_an_injected_tick(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    admin, trader = await make_account(role=UserRole.ADMIN), await make_account()
    tick = {"symbol": IF, "last_price": "3612.4", "volume": 120}
    response = await client.post("/api/v1/market/ticks", json=tick, headers=admin.headers)
    assert response.status_code == 202, response.text
    [injected] = response.json()
    assert (injected["bid_price_1"], injected["ask_price_1"]) == ("3612.4", "3612.6")
    await _published(container)
    response = await client.get(f"/api/v1/market/ticks/{IF}", headers=trader.headers)
    assert response.status_code == 200, response.text
    latest = response.json()
    assert latest == injected
    assert set(latest) == {
        "symbol",
        "last_price",
        "bid_price_1",
        "ask_price_1",
        "bid_volume_1",
        "ask_volume_1",
        "volume",
        "datetime",
        *DEPTH_FIELDS,  # levels 2 to 5: an injected tick without them shows level 1 only
    }
    assert {latest[field] for field in DEPTH_FIELDS} == {"0"}
    assert datetime.fromisoformat(latest["datetime"]).utcoffset() == timedelta(0)
    cached = await container.cache.get(tick_cache_key(IF))
    assert cached is not None
    assert cached["last_price"] == "3612.4"


async def test_a_newer_tick_in_the_shared_cache_wins(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    future = datetime.now(UTC) + timedelta(minutes=1)
    elsewhere: dict[str, Any] = {
        "symbol": RB,
        "last_price": "3333",
        "bid_price_1": "3333",
        "ask_price_1": "3334",
        "bid_volume_1": "5",
        "ask_volume_1": "6",
        "volume": "7",
        "datetime": future.isoformat(),
    }
    await container.cache.set(tick_cache_key(RB), elsewhere)  # as another replica writes it
    response = await client.get(f"/api/v1/market/ticks/{RB}", headers=trader.headers)
    answer = response.json()
    assert datetime.fromisoformat(answer.pop("datetime")) == future
    # Saved before ticks carried depth (a replica of the previous release): levels 2-5 read 0.
    expected = {key: value for key, value in elsewhere.items() if key != "datetime"}
    assert answer == expected | dict.fromkeys(DEPTH_FIELDS, "0")


async def test_unknown_symbol_and_missing_tick_are_404(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trader = await make_account()
    response = await client.get("/api/v1/market/ticks/NOPE.CFFEX", headers=trader.headers)
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "symbol_not_found"
    assert set(body) == {"error", "detail", "request_id"}
    monkeypatch.setattr(container.trading.market, "get_tick", lambda symbol: None)
    await container.cache.delete(tick_cache_key(RB))
    response = await client.get(f"/api/v1/market/ticks/{RB}", headers=trader.headers)
    assert response.status_code == 404
    assert response.json()["error"] == "tick_not_found"


@pytest.mark.parametrize("role", [UserRole.TRADER, UserRole.VIEWER])
async def test_only_admins_inject_ticks(
    client: httpx.AsyncClient, make_account: MakeAccount, role: UserRole
) -> None:
    user = await make_account(role=role)
    tick = {"symbol": IF, "last_price": "3500"}
    response = await client.post("/api/v1/market/ticks", json=tick, headers=user.headers)
    assert response.status_code == 403
    anonymous = await client.post("/api/v1/market/ticks", json=tick)
    assert anonymous.status_code == 401


BAD_TICKS = [
    ({"symbol": "NOPE.CFFEX", "last_price": "1"}, "unknown_symbol"),
    ({"symbol": IF, "last_price": "-3500"}, "greater_than"),
    ({"symbol": IF, "last_price": "0"}, "greater_than"),
    ({"symbol": IF, "last_price": "3500.1"}, "price_tick"),
    ({"symbol": IF, "last_price": "3500", "ask_price_1": "3500.3"}, "price_tick"),
    ({"symbol": IF, "last_price": "3500", "bid_price_1": "3501", "ask_price_1": "3500"}, None),
    ({"symbol": IF, "last_price": "Infinity"}, None),
    ({"symbol": IF, "last_price": "NaN"}, None),
    ({"symbol": IF, "last_price": "3500", "bid_volume_1": -1}, None),
    ({"symbol": IF, "last_price": "3500", "ask_price_2": "3500.1"}, "price_tick"),
    ({"symbol": IF, "last_price": "3500", "ask_price_2": "3500.2"}, "depth_order"),
    ({"symbol": IF, "last_price": "3500", "bid_price_2": "3500.2"}, "depth_order"),
    ({"symbol": IF, "last_price": "3500", "bid_price_3": "3499.6"}, "depth_gap"),
    ({"symbol": IF, "last_price": "3500", "ask_volume_2": "5"}, "missing_level_price"),
    ({"symbol": IF, "last_price": "3500", "bid_price_2": "-3499.8"}, "greater_than"),
    ({"symbol": IF, "last_price": "3500", "ask_volume_2": "-5", "ask_price_2": "3501"}, None),
    ({"symbol": IF, "last_price": "3500", "colour": "red"}, None),
    ({"symbol": IF, "last_price": "3500", "datetime": "2024-01-01T00:00:00"}, None),
    (
        {"symbol": IF, "last_price": "3500", "datetime": "0001-01-01T00:30:00+01:00"},
        "datetime_range",
    ),
    ({"symbol": IF, "last_price": "3500", "datetime": 1704067200}, "iso_8601"),
    ([], None),
]


@pytest.mark.parametrize(("tick", "kind"), BAD_TICKS)
async def test_bad_ticks_are_422_and_nothing_is_injected(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    tick: Any,
    kind: str | None,
) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    before = container.trading.market.get_tick(IF)
    good = {"symbol": IF, "last_price": "3700"}
    body = [good, tick] if isinstance(tick, dict) else tick
    response = await client.post("/api/v1/market/ticks", json=body, headers=admin.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    if kind is not None:
        assert kind in {error["type"] for error in response.json()["detail"]}
    await settle(container)
    assert container.trading.market.get_tick(IF) == before


def _ticks_counted(symbol: str) -> float:
    return REGISTRY.get_sample_value("redfire_ticks_total", {"symbol": symbol}) or 0.0


async def test_a_list_of_ticks_is_injected_in_order_and_each_counted_once(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    counted = _ticks_counted(RB)
    ticks = [{"symbol": RB, "last_price": price, "volume": "10"} for price in ("3301", "3302")]
    ticks.append({"symbol": RB, "last_price": "3303", "bid_price_1": "3302", "ask_price_1": "3304"})
    response = await client.post("/api/v1/market/ticks", json=ticks, headers=admin.headers)
    assert response.status_code == 202, response.text
    injected = response.json()
    assert [t["last_price"] for t in injected] == ["3301", "3302", "3303"]
    assert injected[2]["volume"] == "10"  # unchanged when not given
    await _published(container)
    assert _ticks_counted(RB) == counted + 3
    latest = container.trading.market.get_tick(RB)
    assert latest is not None
    assert (latest.last_price, latest.bid_price_1) == (Decimal(3303), Decimal(3302))
