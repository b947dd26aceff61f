"""vnpy CTA strategies live on PAPER, over REST: a strategy file from STRATEGY__PATHS runs under
the strategy engine, trades through the order service with its strategy_id and the risk checks,
hears of its orders and fills as vnpy objects, and keeps `pos` and its variables over a restart.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.models.enums import UserRole
from backend.services.stream.bus import StreamEvent
from tests.api.conftest import Account, MakeAccount
from tests.api.stream import container_of, started_app
from tests.api.trading import quote, settle
from tests.services.strategy.support import app_engine_paused, wait_for

URL = "/api/v1"
IF = "IF2412.CFFEX"
PROBE_FILE = '''
from vnpy.trader.constant import Status
from vnpy_ctastrategy import BarGenerator, CtaTemplate


class LiveProbeStrategy(CtaTemplate):
    """Buys `fixed_size` at the ask once the price is above `trigger`, while flat."""

    trigger: float = 3500.0
    fixed_size: int = 1
    orders_seen: int = 0
    rejected: int = 0
    trades_seen: int = 0
    last_status: str = ""
    parameters = ["trigger", "fixed_size"]
    variables = ["orders_seen", "rejected", "trades_seen", "last_status"]

    def on_init(self):
        self.bg = BarGenerator(self.on_bar)
        self.working = []
        self.write_log("probe initialised")

    def on_tick(self, tick):
        self.bg.update_tick(tick)
        if self.pos == 0 and not self.working and tick.last_price > self.trigger:
            self.working = self.buy(tick.ask_price_1, self.fixed_size)

    def on_bar(self, bar):
        pass

    def on_order(self, order):
        self.orders_seen += 1
        self.last_status = order.status.name
        if order.status == Status.REJECTED:
            self.rejected += 1
        if not order.is_active():
            self.working = []
        self.put_event()

    def on_trade(self, trade):
        self.trades_seen += 1
'''
FRAGILE_FILE = '''
from vnpy_ctastrategy import CtaTemplate


class FragileTickStrategy(CtaTemplate):
    """Raises on its `explode_at`-th tick."""

    explode_at: int = 2
    parameters = ["explode_at"]

    def on_init(self):
        self.seen = 0

    def on_tick(self, tick):
        self.seen += 1
        if self.seen >= self.explode_at:
            raise ZeroDivisionError("the strategy divided by zero")
'''


@pytest.fixture(scope="module")
def live_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("live-strategies")
    (directory / "probe.py").write_text(textwrap.dedent(PROBE_FILE))
    (directory / "fragile.py").write_text(textwrap.dedent(FRAGILE_FILE))
    return directory


@pytest.fixture(scope="module")
async def live_app(make_config: Callable[..., AppConfig], live_dir: Path) -> AsyncIterator[FastAPI]:
    """A replica configured with STRATEGY__PATHS, on the session's database."""
    async with started_app(
        make_config, strategy={"paths": [str(live_dir)]}, replica_id="cta-live"
    ) as app:
        yield app


@pytest.fixture
async def live(
    live_app: FastAPI, container: AppContainer
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContainer]]:
    """A client of the live replica; the session app's engine is paused meanwhile."""
    transport = httpx.ASGITransport(app=live_app)
    async with (
        app_engine_paused(container),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        yield http, container_of(live_app)


async def create(
    client: httpx.AsyncClient, account: Account, class_name: str, **parameters: Any
) -> int:
    body = {"name": f"{class_name}-{account.username}", "class_name": class_name,
            "symbol": IF, "parameters": parameters}  # fmt: skip
    created = await client.post(f"{URL}/strategies", json=body, headers=account.headers)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def start(client: httpx.AsyncClient, account: Account, strategy_id: int) -> None:
    started = await client.post(f"{URL}/strategies/{strategy_id}/start", headers=account.headers)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "running"


async def stop(client: httpx.AsyncClient, account: Account, strategy_id: int) -> None:
    stopped = await client.post(f"{URL}/strategies/{strategy_id}/stop", headers=account.headers)
    assert stopped.status_code == 200, stopped.text


async def status(client: httpx.AsyncClient, account: Account, strategy_id: int) -> dict:
    response = await client.get(f"{URL}/strategies/{strategy_id}/status", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def tick(container: AppContainer, price: str) -> None:
    ask = str(Decimal(price) + Decimal("0.2"))
    await quote(container, IF, last=price, bid=price, ask=ask)
    async with asyncio.timeout(10):
        await container.strategies.flush()
    await settle(container)
    async with asyncio.timeout(10):
        await container.strategies.flush()


async def running_here(container: AppContainer, strategy_id: int) -> None:
    await wait_for(lambda: strategy_id in container.strategies.runners, within=10)


async def test_a_cta_file_trades_on_paper_and_keeps_pos_over_a_restart(
    live: tuple[httpx.AsyncClient, AppContainer], make_account: MakeAccount
) -> None:
    client, container = live
    trader = await make_account()
    heard: list[StreamEvent] = []
    container.stream.bus.add_listener(
        lambda event: heard.append(event) if event.user_id == trader.id else None
    )
    listing = await client.get(f"{URL}/strategies/classes", headers=trader.headers)
    entry = {item["class_name"]: item for item in listing.json()}["LiveProbeStrategy"]
    assert (entry["available"], entry["kind"]) == (True, "cta")

    strategy_id = await create(client, trader, "LiveProbeStrategy", trigger=3500.0)
    await start(client, trader, strategy_id)
    await running_here(container, strategy_id)
    await tick(container, "3499.0")  # below the trigger: nothing
    await tick(container, "3501.0")  # buys one at the ask, which fills on PAPER
    await tick(container, "3502.0")  # long now: nothing more

    orders = (await client.get(f"{URL}/orders", headers=trader.headers)).json()["items"]
    assert [(o["side"], o["strategy_id"], o["status"], Decimal(o["price"]),
             Decimal(o["quantity"])) for o in orders] == [
        ("BUY", strategy_id, "filled", Decimal("3501.2"), 1)
    ]  # fmt: skip
    live_status = await status(client, trader, strategy_id)
    assert live_status["running"] is True
    assert Decimal(live_status["position"]) == 1
    assert live_status["orders_placed"] == 1
    variables = live_status["variables"]
    assert variables["pos"] == 1
    assert variables["trades_seen"] == 1
    assert variables["last_status"] == "ALLTRADED"
    assert variables["rejected"] == 0
    # write_log and put_event reach the owner's WebSocket `strategy` topic.
    await wait_for(lambda: any(e.data.get("event") == "variables" for e in heard))
    assert {event.topic for event in heard if "event" in event.data} == {"strategy"}
    logs = [event.data for event in heard if event.data.get("event") == "log"]
    assert logs[0] == {"event": "log", "message": "probe initialised", "strategy_id": strategy_id,
                       "symbol": IF, "class_name": "LiveProbeStrategy"}  # fmt: skip
    last = [event.data for event in heard if event.data.get("event") == "variables"][-1]
    assert (last["trading"], last["variables"]["pos"], last["variables"]["trades_seen"]) == (
        True, 1, 1
    )  # fmt: skip

    await stop(client, trader, strategy_id)
    stopped = await status(client, trader, strategy_id)
    assert stopped["variables"]["pos"] == 1
    await start(client, trader, strategy_id)
    await running_here(container, strategy_id)
    await tick(container, "3505.0")  # pos restored to 1: it does not buy again
    restored = await status(client, trader, strategy_id)
    assert restored["variables"]["pos"] == 1
    assert restored["variables"]["trades_seen"] == 1
    orders = (await client.get(f"{URL}/orders", headers=trader.headers)).json()["items"]
    assert len(orders) == 1
    await stop(client, trader, strategy_id)


async def test_an_order_rejected_by_risk_reaches_on_order(
    live: tuple[httpx.AsyncClient, AppContainer], make_account: MakeAccount
) -> None:
    client, container = live
    trader = await make_account()
    admin = await make_account(role=UserRole.ADMIN)
    strategy_id = await create(client, trader, "LiveProbeStrategy", trigger=3500.0)
    await start(client, trader, strategy_id)
    await running_here(container, strategy_id)
    assert (await client.post(f"{URL}/admin/halt", headers=admin.headers)).status_code == 200
    try:
        await tick(container, "3501.0")
    finally:
        await client.post(f"{URL}/admin/resume", headers=admin.headers)
    orders = (await client.get(f"{URL}/orders", headers=trader.headers)).json()["items"]
    assert [(o["strategy_id"], o["status"], o["reject_reason"]) for o in orders] == [
        (strategy_id, "rejected", "trading_halted")
    ]
    body = await status(client, trader, strategy_id)
    assert body["running"] is True
    assert body["variables"]["rejected"] == 1
    assert body["variables"]["last_status"] == "REJECTED"
    assert body["variables"]["pos"] == 0
    await stop(client, trader, strategy_id)


async def test_a_raising_cta_strategy_errors_alone(
    live: tuple[httpx.AsyncClient, AppContainer], make_account: MakeAccount
) -> None:
    client, container = live
    trader = await make_account()
    fragile = await create(client, trader, "FragileTickStrategy", explode_at=2)
    healthy = await create(client, trader, "LiveProbeStrategy", trigger=10_000.0)
    await start(client, trader, fragile)
    await start(client, trader, healthy)
    await running_here(container, fragile)
    await running_here(container, healthy)
    await tick(container, "3500.0")
    await tick(container, "3500.4")

    async def errored() -> bool:
        body = await status(client, trader, fragile)
        return body["status"] == "error"

    await wait_for(errored, within=10)
    body = await status(client, trader, fragile)
    assert body["last_error"] == (
        "FragileTickStrategy.on_tick raised ZeroDivisionError: the strategy divided by zero"
    )
    await tick(container, "3500.6")
    other = await status(client, trader, healthy)
    assert other["status"] == "running"
    assert other["running"] is True
    assert other["ticks_processed"] == 3
    await stop(client, trader, healthy)
    await stop(client, trader, fragile)
