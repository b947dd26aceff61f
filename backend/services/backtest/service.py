"""BacktestService: a user's backtests in the database, validated against the registry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow
from backend.core.errors import ConflictError, DomainValidationError, NotFoundError
from backend.models.backtest import Backtest
from backend.models.enums import BacktestStatus
from backend.schemas.backtests import BacktestCreate, BacktestSettings
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestEngine
from backend.services.backtest.history_feed import BarChunk, HistoryFeed
from backend.services.backtest.results import StoredResult, stored_result
from backend.services.backtest.statistics import RatioSettings
from backend.services.strategy.base import BaseStrategy
from backend.services.strategy.registry import StrategyRegistry
from backend.services.vnpy.types import ContractInfo, ContractLookup


class BacktestNotFoundError(NotFoundError):
    """No such backtest of this user."""

    code = "backtest_not_found"


class BacktestNotFinishedError(ConflictError):
    """The backtest has no results (yet)."""

    code = "backtest_not_finished"


class NoStoredTicksError(DomainValidationError):
    """The platform keeps only the latest tick per symbol: there is no history to replay."""

    code = "no_stored_ticks"


@dataclass(frozen=True, slots=True)
class BacktestJob:
    """One run's inputs, held in memory (the bars are never stored) until a worker runs it."""

    backtest_id: int
    strategy_class: type[BaseStrategy]
    parameters: BaseModel
    bars: BarSeries
    costs: CostModel
    ratios: RatioSettings
    max_stored_trades: int
    # Stored bars read while the backtest runs (`bars` starts empty then).
    feed: Iterable[BarChunk] | None = None

    def execute(self) -> StoredResult:
        """Run the backtest (blocking: on a worker thread) and shape what is stored."""
        engine = BacktestEngine(self.costs, self.ratios)
        result = engine.run(self.strategy_class, self.parameters, self.bars, self.feed)
        return stored_result(self.bars, result, self.costs, self.max_stored_trades)


class BacktestService:
    """Create, read and list backtests; the runner changes their status."""

    def __init__(
        self,
        *,
        registry: StrategyRegistry,
        contracts: ContractLookup,
        replica: str,
        max_stored_trades: int,
    ) -> None:
        self.registry = registry
        self.contracts = contracts
        self.replica = replica
        self.max_stored_trades = max_stored_trades

    async def create(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        request: BacktestCreate,
        bars: BarSeries,
        feed: HistoryFeed | None = None,
        bar_count: int | None = None,
    ) -> tuple[Backtest, BacktestJob]:
        """A queued backtest and the job that runs it; 422 for an unknown class or parameters.

        `bars` are uploaded bars, or (with a `feed` of `bar_count` stored bars) empty.
        """
        strategy_class = self.registry.get(request.class_name)
        parameters = self.registry.validate(request.class_name, request.parameters)
        settings = _with_contract_terms(request.settings, self.contracts(request.symbol))
        backtest = Backtest(
            user_id=user_id,
            status=BacktestStatus.QUEUED,
            class_name=request.class_name,
            symbol=request.symbol,
            source="csv" if feed is None else "history",
            parameters=parameters.model_dump(mode="json"),
            settings=settings.model_dump(mode="json"),
            bar_count=bars.bar_count if bar_count is None else bar_count,
            trade_count=0,
            replica=self.replica,
        )
        session.add(backtest)
        await session.flush()
        costs = CostModel(
            capital=settings.capital,
            rate=settings.rate,
            slippage=settings.slippage,
            size=settings.size or Decimal(1),
            pricetick=settings.pricetick or Decimal(0),
        )
        ratios = RatioSettings(settings.risk_free, settings.annual_days, settings.half_life)
        job = BacktestJob(
            backtest.id, strategy_class, parameters, bars, costs, ratios, self.max_stored_trades,
            feed,
        )  # fmt: skip
        return backtest, job

    async def get(self, session: AsyncSession, *, user_id: int, backtest_id: int) -> Backtest:
        """One of the user's backtests; 404 when missing or someone else's."""
        backtest = await session.get(Backtest, backtest_id)
        if backtest is None or backtest.user_id != user_id:
            raise BacktestNotFoundError(f"backtest {backtest_id} not found")
        return backtest

    async def list(
        self, session: AsyncSession, *, user_id: int, limit: int, offset: int
    ) -> tuple[Sequence[Backtest], int]:
        """The user's backtests, newest first, and how many there are."""
        mine = Backtest.user_id == user_id
        total = await session.scalar(select(func.count()).select_from(Backtest).where(mine))
        rows = await session.scalars(
            select(Backtest).where(mine).order_by(Backtest.id.desc()).limit(limit).offset(offset)
        )
        return rows.all(), int(total or 0)


def _with_contract_terms(
    settings: BacktestSettings, contract: ContractInfo | None
) -> BacktestSettings:
    """Size and price tick left out: the listed contract's (as trading it would), else 1 and 0.

    Stored as resolved, so a backtest's settings say what it ran with.
    """
    size = settings.size
    if size is None:
        size = contract.size if contract is not None else Decimal(1)
    pricetick = settings.pricetick
    if pricetick is None:
        pricetick = contract.price_tick if contract is not None else Decimal(0)
    return settings.model_copy(update={"size": size, "pricetick": pricetick})


async def mark_running(session: AsyncSession, backtest_id: int) -> None:
    """queued -> running."""
    values = {"status": BacktestStatus.RUNNING, "started_at": utcnow()}
    await _set(session, backtest_id, values)


async def mark_finished(session: AsyncSession, backtest_id: int, result: StoredResult) -> None:
    """running -> finished, with the results."""
    await _set(
        session,
        backtest_id,
        {
            "status": BacktestStatus.FINISHED,
            "statistics": result.statistics,
            "trade_count": result.trade_count,
            "trades": result.trades,
            "daily": result.daily,
            "finished_at": utcnow(),
        },
    )


async def mark_failed(session: AsyncSession, backtest_id: int, error: str) -> None:
    """-> failed, saying why."""
    values = {"status": BacktestStatus.FAILED, "error": error[:2000], "finished_at": utcnow()}
    await _set(session, backtest_id, values)


async def fail_unfinished(session: AsyncSession, replica: str, error: str) -> int:
    """Fail every queued or running backtest of `replica` (its bars died with the process)."""
    unfinished = (BacktestStatus.QUEUED, BacktestStatus.RUNNING)
    now = utcnow()
    result = await session.execute(
        update(Backtest)
        .where(Backtest.replica == replica, Backtest.status.in_(unfinished))
        .values(status=BacktestStatus.FAILED, error=error, finished_at=now, updated_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _set(session: AsyncSession, backtest_id: int, values: dict[str, Any]) -> None:
    await session.execute(
        update(Backtest).where(Backtest.id == backtest_id).values(updated_at=utcnow(), **values)
    )
