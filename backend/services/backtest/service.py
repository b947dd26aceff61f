"""BacktestService: a user's backtests in the database, validated against the registry."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow
from backend.core.database.cancellation import cancel_unfinished
from backend.core.errors import (
    ConflictError,
    DomainValidationError,
    NotFoundError,
    RateLimitedError,
)
from backend.domain.market import ContractInfo, ContractLookup
from backend.models.backtest import Backtest
from backend.models.enums import BacktestStatus
from backend.models.user import User
from backend.schemas.backtests import BacktestCreate, BacktestSettings
from backend.services.backtest.bars import BarSeries, InvalidBarDataError
from backend.services.backtest.chart import equity_png
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestFailedError
from backend.services.backtest.history_feed import BarChunk, HistoryFeed
from backend.services.backtest.results import StoredResult, stored_result
from backend.services.backtest.statistics import RatioSettings
from backend.services.backtest.strategies import run_strategy_backtest
from backend.services.backtest.window import split_at
from backend.services.cta.history import exchange_problem
from backend.services.strategy.classes import StrategyClassEntry, StrategyKind
from backend.services.strategy.registry import StrategyRegistry
from backend.services.vnpy.paper_gateway import PaperGateway

logger = structlog.get_logger(__name__)

UNFINISHED = (BacktestStatus.QUEUED, BacktestStatus.RUNNING)
# What a client over the per-user limit is told to wait: a queued backtest runs for seconds.
QUEUED_RETRY_AFTER_SECONDS = 10


class BacktestNotFoundError(NotFoundError):
    """No such backtest of this user."""

    code = "backtest_not_found"


class BacktestNotFinishedError(ConflictError):
    """The backtest has no results (yet)."""

    code = "backtest_not_finished"


class BacktestFinishedError(ConflictError):
    """A cancel that came after the backtest had ended."""

    code = "backtest_finished"


class NoStoredTicksError(DomainValidationError):
    """The platform keeps only the latest tick per symbol: there is no history to replay."""

    code = "no_stored_ticks"


class TooManyQueuedBacktestsError(RateLimitedError):
    """The user already has BACKTEST__MAX_QUEUED_PER_USER backtests queued or running."""

    code = "too_many_queued_backtests"


def chart_title(backtest_id: int, class_name: str, symbol: str) -> str:
    """The equity chart's title."""
    return f"{class_name} on {symbol} (backtest {backtest_id})"


@dataclass(frozen=True, slots=True)
class BacktestJob:
    """One run's inputs, held in memory (the bars are never stored) until a worker runs it."""

    backtest_id: int
    strategy: StrategyClassEntry
    parameters: BaseModel
    bars: BarSeries
    costs: CostModel
    ratios: RatioSettings
    max_stored_trades: int
    start: datetime | None = None
    # Stored bars read while the backtest runs (`bars` starts empty then).
    feed: Iterable[BarChunk] | None = None
    # Set to stop the run (its backtest was cancelled): execute raises BacktestCancelledError.
    stop: threading.Event = field(default_factory=threading.Event)

    def execute(self) -> StoredResult:
        """Run the backtest (blocking: on a worker thread), shape what is stored, draw the chart.

        Raises BacktestFailedError, whose message is what the failed row shows.
        """
        run = run_strategy_backtest(
            self.strategy, self.parameters, self.bars, self.costs, self.ratios, self.start,
            self.feed, self.stop.is_set,
        )  # fmt: skip
        try:
            stored = stored_result(run.bars, run.result, self.costs, self.max_stored_trades)
        except Exception as exc:
            raise BacktestFailedError.during("storing the results failed", exc) from exc
        if run.offsets is not None:
            for trade, offset in zip(stored.trades, run.offsets, strict=False):
                trade["offset"] = offset
        title = chart_title(self.backtest_id, self.strategy.class_name, run.bars.symbol)
        try:
            png = equity_png(stored.daily, capital=self.costs.capital, title=title)
        except Exception:
            # The results stand without it: GET .../equity.png draws it again when asked.
            logger.warning("backtest_chart_not_drawn", backtest_id=self.backtest_id, exc_info=True)
            return stored
        return replace(stored, equity_png=png)


class BacktestService:
    """Create, read and list backtests; the runner changes their status."""

    def __init__(
        self,
        *,
        registry: StrategyRegistry,
        contracts: ContractLookup,
        replica: str,
        max_stored_trades: int,
        max_queued_per_user: int,
        paper_commission_rate: Decimal,
    ) -> None:
        self.registry = registry
        self.contracts = contracts
        self.replica = replica
        self.max_stored_trades = max_stored_trades
        self.max_queued_per_user = max_queued_per_user
        self.paper_commission_rate = paper_commission_rate

    async def ensure_capacity(
        self, session: AsyncSession, *, user_id: int, lock: bool = False
    ) -> None:
        """429 `too_many_queued_backtests` when the user has the most queued or running.

        Each queued job holds its bars in memory. `lock`: hold the user's row until the
        transaction ends (PostgreSQL; SQLite's transactions are serial already), so that two
        submissions at once cannot both take the last place.
        """
        if lock:
            await session.execute(
                select(User.id).where(User.id == user_id).with_for_update(key_share=True)
            )
        unfinished = await session.scalar(
            select(func.count())
            .select_from(Backtest)
            .where(Backtest.user_id == user_id, Backtest.status.in_(UNFINISHED))
        )
        limit = self.max_queued_per_user
        if int(unfinished or 0) >= limit:
            raise TooManyQueuedBacktestsError(
                f"you have {limit} backtest(s) queued or running, the most one user may have "
                "(BACKTEST__MAX_QUEUED_PER_USER); submit again once one has finished",
                retry_after=QUEUED_RETRY_AFTER_SECONDS,
            )

    async def create(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        request: BacktestCreate,
        bars: BarSeries,
        feed: HistoryFeed | None = None,
        bar_count: int | None = None,
        stored_range: dict[str, Any] | None = None,
        bars_csv: bytes | None = None,
    ) -> tuple[Backtest, BacktestJob]:
        """A queued backtest and the job that runs it; 422 for an unknown class or parameters,
        429 when the user has the most backtests queued or running.

        `bars` are uploaded bars, or (with a `feed` of `bar_count` stored bars) empty. Kept for
        a worker: the upload gzipped (`bars_csv`) or the range of stored bars (`stored_range`).
        """
        strategy = self.registry.entry(request.class_name)
        parameters = self.registry.validate(request.class_name, request.parameters)
        await self.ensure_capacity(session, user_id=user_id, lock=True)
        contract = self.contracts(request.symbol)
        settings = with_contract_terms(request.settings, contract, self.paper_commission_rate)
        if strategy.kind is StrategyKind.CTA and (problem := exchange_problem(request.symbol)):
            raise DomainValidationError(problem, code="unknown_exchange")
        if feed is None and not split_at(bars, settings.start)[1].bar_count:
            raise InvalidBarDataError(f"no bar at or after settings.start {settings.start}")
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
            request=stored_range,
            bars_csv=bars_csv,
        )
        session.add(backtest)
        await session.flush()
        costs = CostModel(
            capital=settings.capital,
            rate=settings.rate or Decimal(0),
            slippage=settings.slippage,
            size=settings.size or Decimal(1),
            pricetick=settings.pricetick or Decimal(0),
        )
        ratios = RatioSettings(settings.risk_free, settings.annual_days, settings.half_life)
        job = BacktestJob(
            backtest.id, strategy, parameters, bars, costs, ratios, self.max_stored_trades,
            settings.start, feed,
        )  # fmt: skip
        return backtest, job

    async def get(self, session: AsyncSession, *, user_id: int, backtest_id: int) -> Backtest:
        """One of the user's backtests; 404 when missing or someone else's."""
        backtest = await session.get(Backtest, backtest_id)
        if backtest is None or backtest.user_id != user_id:
            raise BacktestNotFoundError(f"backtest {backtest_id} not found")
        return backtest

    async def cancel(self, session: AsyncSession, *, user_id: int, backtest_id: int) -> Backtest:
        """queued | running -> cancelled: a queued one never starts, a running one's result
        is not stored; 409 `backtest_finished` once it has ended."""
        backtest = await self.get(session, user_id=user_id, backtest_id=backtest_id)
        cancelled = await cancel_unfinished(
            session, Backtest, backtest_id, unfinished=UNFINISHED,
            cancelled=BacktestStatus.CANCELLED,
        )  # fmt: skip
        await session.refresh(backtest)
        if not cancelled:
            raise BacktestFinishedError(f"backtest {backtest_id} is {backtest.status.value}")
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


def with_contract_terms(
    settings: BacktestSettings, contract: ContractInfo | None, paper_rate: Decimal
) -> BacktestSettings:
    """What was left out, as trading the listed contract would book it.

    Size and price tick: the contract's, else 1 and 0. Rate: VNPY__PAPER_COMMISSION_RATE when
    the contract trades on PAPER (what its fills are charged), else 0. Stored as resolved, so
    a backtest's settings say what it ran with.
    """
    size = settings.size
    if size is None:
        size = contract.size if contract is not None else Decimal(1)
    pricetick = settings.pricetick
    if pricetick is None:
        pricetick = contract.price_tick if contract is not None else Decimal(0)
    rate = settings.rate
    if rate is None:
        on_paper = contract is not None and contract.gateway == PaperGateway.default_name
        rate = paper_rate if on_paper else Decimal(0)
    return settings.model_copy(update={"size": size, "pricetick": pricetick, "rate": rate})


async def mark_running(session: AsyncSession, backtest_id: int) -> bool:
    """queued -> running; False when it is no longer queued (cancelled meanwhile)."""
    values = {"status": BacktestStatus.RUNNING, "started_at": utcnow()}
    return await _set(session, backtest_id, BacktestStatus.QUEUED, values)


def finished_values(result: StoredResult) -> dict[str, Any]:
    """A finished backtest's columns: its results and chart."""
    return {
        "status": BacktestStatus.FINISHED,
        "statistics": result.statistics,
        "trade_count": result.trade_count,
        "trades": result.trades,
        "daily": result.daily,
        "equity_png": result.equity_png,
        "finished_at": utcnow(),
    }


async def mark_finished(session: AsyncSession, backtest_id: int, result: StoredResult) -> None:
    """running -> finished, with the results and the chart (not once cancelled)."""
    await _set(session, backtest_id, BacktestStatus.RUNNING, finished_values(result))


async def stored_chart(session: AsyncSession, backtest: Backtest) -> bytes:
    """The finished backtest's equity chart: as stored, or drawn now (off the event loop) and
    stored, for a backtest that finished before charts were kept."""
    png = await session.scalar(select(Backtest.equity_png).where(Backtest.id == backtest.id))
    if png is not None:
        return png
    title = chart_title(backtest.id, backtest.class_name, backtest.symbol)
    capital = Decimal(str(backtest.settings.get("capital", BacktestSettings().capital)))
    png = await asyncio.to_thread(equity_png, backtest.daily or [], capital=capital, title=title)
    # Kept, not a change of the backtest: its updated_at stays.
    await session.execute(
        update(Backtest)
        .where(Backtest.id == backtest.id)
        .values(equity_png=png, updated_at=Backtest.updated_at)
    )
    return png


async def mark_failed(session: AsyncSession, backtest_id: int, error: str) -> None:
    """running -> failed, saying why (not once cancelled)."""
    values = {"status": BacktestStatus.FAILED, "error": error[:2000], "finished_at": utcnow()}
    await _set(session, backtest_id, BacktestStatus.RUNNING, values)


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


async def _set(
    session: AsyncSession, backtest_id: int, status: BacktestStatus, values: dict[str, Any]
) -> bool:
    """`values` written while the backtest is still `status`; False when it is not."""
    result = await session.execute(
        update(Backtest)
        .where(Backtest.id == backtest_id, Backtest.status == status)
        .values(updated_at=utcnow(), **values)
    )
    return bool(getattr(result, "rowcount", 0))
