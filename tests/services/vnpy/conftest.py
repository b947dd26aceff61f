"""Fixtures of the vnpy execution layer tests: a real vnpy engine on the PAPER gateway."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest

from backend.core.config.settings import ContractConfig, VnpyConfig
from backend.domain.market import OrderUpdate, TradeFill
from backend.services.vnpy.engine import RedFireVnPyEngine, vnpy_engine_from_config
from backend.services.vnpy.event_engine import RedFireEventEngine
from backend.services.vnpy.types import BridgeEvent

IF = "IF2412.CFFEX"
RB = "rb2501.SHFE"
BTC = "BTCUSDT.GLOBAL"
WAIT = 5.0  # upper bound of any wait in these tests; they never sleep to synchronise
VNPY_THREAD_PREFIXES = ("vnpy-", "paper-")


_threads_before_test: set[int] = set()


@pytest.fixture(autouse=True)
def _remember_running_threads() -> None:
    """Threads of engines started elsewhere (the session's app) are not this test's."""
    _threads_before_test.clear()
    _threads_before_test.update(t.ident or 0 for t in threading.enumerate())


def vnpy_threads() -> list[str]:
    """Names of live threads that vnpy or the PAPER gateway started during this test."""
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith(VNPY_THREAD_PREFIXES) and t.ident not in _threads_before_test
    ]


def paper_config(**overrides: object) -> VnpyConfig:
    """PAPER with three contracts, no tick generator (ticks are injected), a fixed seed."""
    contracts = [
        ContractConfig(
            symbol="IF2412",
            exchange="CFFEX",
            name="CSI 300 2412",
            price_tick=Decimal("0.2"),
            size=Decimal(300),
            initial_price=Decimal("3500.0"),
        ),
        ContractConfig(
            symbol="rb2501",
            exchange="SHFE",
            price_tick=Decimal(1),
            size=Decimal(10),
            initial_price=Decimal(3300),
        ),
        ContractConfig(
            symbol="BTCUSDT",
            exchange="GLOBAL",
            price_tick=Decimal("0.01"),
            min_volume=Decimal("0.001"),
            initial_price=Decimal("60000.00"),
        ),
    ]
    values: dict[str, object] = {
        "paper_contracts": contracts,
        "paper_tick_interval": 0,
        "paper_seed": 7,
        "paper_commission_rate": Decimal("0.0001"),
    }
    values.update(overrides)
    return VnpyConfig.model_validate(values)


class Recorder:
    """Collects the OrderUpdates and TradeFills the bridge delivers."""

    def __init__(self, engine: RedFireVnPyEngine) -> None:
        self.engine = engine
        self.orders: list[OrderUpdate] = []
        self.trades: list[TradeFill] = []
        engine.bridge.subscribe(BridgeEvent.ORDER, self._on_order)
        engine.bridge.subscribe(BridgeEvent.TRADE, self._on_trade)

    async def _on_order(self, update: OrderUpdate) -> None:
        self.orders.append(update)

    async def _on_trade(self, fill: TradeFill) -> None:
        self.trades.append(fill)

    async def settle(self) -> None:
        """Wait until everything emitted so far has been recorded."""
        async with asyncio.timeout(WAIT):
            await self.engine.flush()

    def updates_of(self, vt_orderid: str) -> list[OrderUpdate]:
        """The updates of one order, in arrival order."""
        return [u for u in self.orders if u.vt_orderid == vt_orderid]

    def fills_of(self, vt_orderid: str) -> list[TradeFill]:
        """The fills of one order."""
        return [f for f in self.trades if f.vt_orderid == vt_orderid]


@pytest.fixture
def vnpy_config() -> VnpyConfig:
    """The PAPER configuration of these tests."""
    return paper_config()


@pytest.fixture
async def engine(vnpy_config: VnpyConfig) -> AsyncIterator[RedFireVnPyEngine]:
    """A started engine, stopped after the test."""
    vnpy_engine = vnpy_engine_from_config(vnpy_config)
    await vnpy_engine.start()
    try:
        yield vnpy_engine
    finally:
        await vnpy_engine.stop()


@pytest.fixture
async def recorder(engine: RedFireVnPyEngine) -> Recorder:
    """Order and trade events of `engine`."""
    return Recorder(engine)


@pytest.fixture
def event_engine() -> Iterator[RedFireEventEngine]:
    """A running vnpy event engine, stopped after the test."""
    vnpy_events = RedFireEventEngine()
    vnpy_events.start()
    try:
        yield vnpy_events
    finally:
        vnpy_events.stop()
