"""Strategies, backtests, market history, the stream and operations, one dependency each."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection

from backend.api.deps.connection import container_of
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.core.monitoring.health import HealthRegistry
from backend.services.backtest.service import BacktestService
from backend.services.backtest.submission import BacktestSubmission
from backend.services.market.coverage import CoverageReader
from backend.services.market.importer import BarImporter
from backend.services.market.pages import BarPages
from backend.services.strategy.control import StrategyControl
from backend.services.strategy.service import StrategyService
from backend.services.stream.hub import StreamHub


async def get_strategy_service(connection: HTTPConnection) -> StrategyService:
    """Validation against the engine's registry and the listed contracts."""
    container = container_of(connection)
    return StrategyService(
        registry=container.strategies.registry,
        contracts=container.trading.market.get_contract,
    )


async def get_strategy_control(connection: HTTPConnection) -> StrategyControl:
    """Start, stop and live status, through this replica's engine."""
    container = container_of(connection)
    strategies = StrategyService(
        registry=container.strategies.registry, contracts=container.trading.market.get_contract
    )
    return StrategyControl(strategies, container.strategies)


def _backtest_service(connection: HTTPConnection) -> BacktestService:
    container = container_of(connection)
    config = container.config
    return BacktestService(
        registry=container.strategies.registry,
        contracts=container.trading.market.get_contract,
        replica=config.replica_id,
        max_stored_trades=config.backtest.max_stored_trades,
        max_queued_per_user=config.backtest.max_queued_per_user,
        paper_commission_rate=config.vnpy.paper_commission_rate,
    )


async def get_backtest_service(connection: HTTPConnection) -> BacktestService:
    """Checked against the strategy registry and the listed contracts; rows carry this replica."""
    return _backtest_service(connection)


async def get_backtest_submission(connection: HTTPConnection) -> BacktestSubmission:
    """Stores a backtest and queues it: on this replica's runner, or procrastinate's queue."""
    container = container_of(connection)
    return BacktestSubmission(
        _backtest_service(connection),
        reader=container.history.reader,
        queue=container.backtest_queue,
        max_bars=container.config.backtest.max_bars,
    )


async def get_bar_pages(connection: HTTPConnection) -> BarPages:
    return container_of(connection).history.pages


async def get_bar_coverage(connection: HTTPConnection) -> CoverageReader:
    return container_of(connection).history.coverage


async def get_bar_importer(connection: HTTPConnection) -> BarImporter:
    return container_of(connection).history.importer


async def get_stream_hub(connection: HTTPConnection) -> StreamHub:
    return container_of(connection).stream.hub


async def get_health(connection: HTTPConnection) -> HealthRegistry:
    return container_of(connection).health


async def get_lifecycle(connection: HTTPConnection) -> ApplicationLifecycleManager:
    return container_of(connection).lifecycle


StrategyControlDep = Annotated[StrategyControl, Depends(get_strategy_control)]
StrategyServiceDep = Annotated[StrategyService, Depends(get_strategy_service)]
BacktestServiceDep = Annotated[BacktestService, Depends(get_backtest_service)]
BacktestSubmissionDep = Annotated[BacktestSubmission, Depends(get_backtest_submission)]
BarPagesDep = Annotated[BarPages, Depends(get_bar_pages)]
BarCoverageDep = Annotated[CoverageReader, Depends(get_bar_coverage)]
BarImporterDep = Annotated[BarImporter, Depends(get_bar_importer)]
StreamHubDep = Annotated[StreamHub, Depends(get_stream_hub)]
HealthDep = Annotated[HealthRegistry, Depends(get_health)]
LifecycleDep = Annotated[ApplicationLifecycleManager, Depends(get_lifecycle)]
