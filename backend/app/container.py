"""AppContainer: the application's long-lived components, kept on `app.state.container`."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.app.market_history import MarketHistory
from backend.app.stream import StreamComponents
from backend.app.trading import TradingComponents
from backend.core.cache.protocol import Cache
from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.core.messaging.port import Messaging
from backend.core.monitoring.health import HealthRegistry
from backend.core.security import SecurityComponents
from backend.services.apikeys.guard import ApiKeyGuard
from backend.services.auth.access import AccessGuard
from backend.services.auth.revocations import RevocationStore
from backend.services.backtest.queueing import BacktestQueue
from backend.services.backtest.runner import BacktestRunner
from backend.services.replicas.registry import ReplicaRegistry
from backend.services.research.queueing import ResearchQueue
from backend.services.research.runner import OptimizationRunner
from backend.services.strategy.engine import StrategyEngine


@dataclass
class AppContainer:
    """Built by `create_app`, started and stopped by the lifecycle manager."""

    config: AppConfig
    lifecycle: ApplicationLifecycleManager
    database: AsyncDatabaseManager
    cache: Cache
    messaging: Messaging
    security: SecurityComponents
    revocations: RevocationStore
    access: AccessGuard
    api_keys: ApiKeyGuard
    trading: TradingComponents
    stream: StreamComponents
    strategies: StrategyEngine
    backtests: BacktestRunner
    # Where accepted backtests go: `backtests` itself (local engine) or procrastinate.
    backtest_queue: BacktestQueue
    replicas: ReplicaRegistry
    history: MarketHistory
    research: OptimizationRunner
    # Where accepted optimisations go: `research` itself (local engine) or procrastinate.
    research_queue: ResearchQueue
    health: HealthRegistry = field(default_factory=HealthRegistry)
