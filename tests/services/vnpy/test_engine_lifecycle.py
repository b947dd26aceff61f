"""Start, stop and market data of RedFireVnPyEngine on the PAPER gateway."""

from __future__ import annotations

import asyncio
import os
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from backend.domain.market import ContractInfo, OrderTicket, TickSnapshot
from backend.models.enums import OrderSide, OrderType
from backend.services.vnpy.engine import RedFireVnPyEngine, vnpy_engine_from_config
from backend.services.vnpy.errors import EngineNotRunningError
from backend.services.vnpy.types import BridgeEvent

from .conftest import BTC, IF, RB, WAIT, paper_config, vnpy_threads

REPO = Path(__file__).resolve().parents[3]


async def test_start_and_stop_leave_no_threads_and_keep_the_working_directory() -> None:
    before = {t.ident for t in threading.enumerate()}
    cwd = os.getcwd()
    engine = vnpy_engine_from_config(paper_config(paper_tick_interval=0.01))
    await engine.start()
    assert engine.is_running
    assert sorted(vnpy_threads()) == ["paper-ticks", "vnpy-event", "vnpy-timer"]
    assert os.getcwd() == cwd  # MainEngine chdir()s into ~/.vntrader; the engine undoes it
    await engine.stop()
    assert not engine.is_running
    assert vnpy_threads() == []
    leftover = [t for t in threading.enumerate() if t.ident not in before and not t.daemon]
    assert [t.name for t in leftover if not t.name.startswith("asyncio_")] == []
    assert not (REPO / ".vntrader").exists()


async def test_start_and_stop_are_idempotent_and_restartable() -> None:
    engine = vnpy_engine_from_config(paper_config())
    await engine.stop()  # before start: nothing to do
    await engine.start()
    await engine.start()
    await engine.stop()
    await engine.stop()
    await engine.start()  # a stopped engine starts again, with fresh vnpy engines
    assert engine.get_tick(IF) is not None
    await engine.stop()
    assert vnpy_threads() == []


async def test_not_running_is_a_clear_error() -> None:
    engine = vnpy_engine_from_config(paper_config())
    with pytest.raises(EngineNotRunningError):
        engine.send_order(OrderTicket(IF, OrderSide.BUY, OrderType.MARKET, Decimal(1)))
    with pytest.raises(EngineNotRunningError):
        engine.list_contracts()


async def test_contracts_are_listed_with_decimal_fields(engine: RedFireVnPyEngine) -> None:
    contracts = {c.symbol: c for c in engine.list_contracts()}
    assert sorted(contracts) == [BTC, IF, RB]
    assert contracts[IF] == ContractInfo(
        symbol=IF,
        code="IF2412",
        exchange="CFFEX",
        name="CSI 300 2412",
        gateway="PAPER",
        price_tick=Decimal("0.2"),
        size=Decimal(300),
        min_volume=Decimal(1),
    )
    assert contracts[BTC].min_volume == Decimal("0.001")
    assert engine.get_contract("NOPE.CFFEX") is None


async def test_every_contract_has_a_tick_from_start_up(engine: RedFireVnPyEngine) -> None:
    tick = engine.get_tick(IF)
    assert tick is not None
    assert (tick.last_price, tick.bid_price_1, tick.ask_price_1) == (
        Decimal("3500.0"),
        Decimal("3500.0"),
        Decimal("3500.2"),
    )
    assert tick.datetime.utcoffset() is not None
    btc = engine.get_tick(BTC)
    assert btc is not None
    assert btc.ask_price_1 == Decimal("60000.01")
    assert engine.get_tick(RB) is not None


async def test_injected_ticks_reach_subscribers_and_the_tick_cache(
    engine: RedFireVnPyEngine,
) -> None:
    received: list[TickSnapshot] = []

    async def on_tick(tick: TickSnapshot) -> None:
        received.append(tick)

    engine.bridge.subscribe(BridgeEvent.TICK, on_tick)
    engine.paper_gateway(IF).inject_tick(IF, last_price=Decimal("3512.4"))
    async with asyncio.timeout(WAIT):
        await engine.flush()
    assert [t.last_price for t in received] == [Decimal("3512.4")]
    tick = engine.get_tick(IF)
    assert tick is not None
    assert (tick.bid_price_1, tick.ask_price_1) == (Decimal("3512.4"), Decimal("3512.6"))


async def test_the_latest_tick_is_converted_once_per_tick(engine: RedFireVnPyEngine) -> None:
    """Read again before another tick arrives: the very same snapshot (converted once);
    after the next tick, that tick's prices."""
    first = engine.get_tick(IF)
    assert first is not None
    assert engine.get_tick(IF) is first
    engine.paper_gateway(IF).inject_tick(IF, last_price=Decimal("3499.8"))
    async with asyncio.timeout(WAIT):
        await engine.flush()
    moved = engine.get_tick(IF)
    assert moved is not None
    assert moved is not first
    assert moved.last_price == Decimal("3499.8")
    assert engine.get_tick(IF) is moved


async def test_the_generator_walks_on_the_price_grid_and_stops() -> None:
    engine = vnpy_engine_from_config(paper_config(paper_tick_interval=0.005))
    ticks: list[TickSnapshot] = []
    enough = asyncio.Event()

    async def on_tick(tick: TickSnapshot) -> None:
        ticks.append(tick)
        if len(ticks) >= 12:
            enough.set()

    engine.bridge.subscribe(BridgeEvent.TICK, on_tick)
    await engine.start()
    try:
        await asyncio.wait_for(enough.wait(), WAIT)
    finally:
        await engine.stop()
    assert vnpy_threads() == []
    for tick in ticks:
        tick_size = {IF: Decimal("0.2"), RB: Decimal(1), BTC: Decimal("0.01")}[tick.symbol]
        assert tick.last_price % tick_size == 0
        assert tick.ask_price_1 - tick.bid_price_1 == tick_size
