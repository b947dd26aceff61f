"""Market history components, wired to the tick bridge, and their lifecycle hooks."""

from __future__ import annotations

from dataclasses import dataclass

from backend.core.cache.protocol import Cache
from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.services.market.coverage import CoverageReader
from backend.services.market.history import BarHistory
from backend.services.market.importer import BarImporter
from backend.services.market.pages import BarPages
from backend.services.market.partitions import Partitions
from backend.services.market.reading import BarReader
from backend.services.market.recorder import BarRecorder
from backend.services.market.retention import Retention
from backend.services.market.store import BarStore
from backend.services.vnpy.engine import RedFireVnPyEngine
from backend.services.vnpy.types import BridgeEvent


@dataclass
class MarketHistory:
    """Recording, storage, reading and import of bars."""

    partitions: Partitions
    store: BarStore
    recorder: BarRecorder | None
    reader: BarReader
    pages: BarPages
    coverage: CoverageReader
    history: BarHistory
    importer: BarImporter
    retention: Retention


def build_market_history(
    config: AppConfig, database: AsyncDatabaseManager, cache: Cache, market: RedFireVnPyEngine
) -> MarketHistory:
    """Create the components; the recorder listens to every tick of the bridge (no I/O)."""
    partitions = Partitions(database)
    store = BarStore(database, partitions)
    reader = BarReader(database)
    pages = BarPages(reader, cache)
    recorder = None
    if config.market.record_bars:
        recorder = BarRecorder(store, config.market, pages=pages)
        market.bridge.subscribe(BridgeEvent.TICK, recorder.on_tick)
    return MarketHistory(
        partitions=partitions,
        store=store,
        recorder=recorder,
        reader=reader,
        pages=pages,
        coverage=CoverageReader(database),
        history=BarHistory(reader),
        importer=BarImporter(database, partitions, pages),
        retention=Retention(database, partitions, config.market),
    )


def register_market_history(lifecycle: ApplicationLifecycleManager, history: MarketHistory) -> None:
    """Register before vnpy: the recorder stops after it, with every tick delivered, and
    writes the forming bars before the database closes."""
    retention = history.retention
    lifecycle.register("market_retention", start=retention.start, stop=retention.stop)
    recorder = history.recorder
    if recorder is not None:
        lifecycle.register("bar_recorder", start=recorder.start, stop=recorder.stop)
