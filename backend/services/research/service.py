"""OptimizationService: a user's optimisations in the database, validated before they are kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.cancellation import cancel_unfinished
from backend.core.errors import (
    ConflictError,
    DomainValidationError,
    NotFoundError,
    RateLimitedError,
)
from backend.domain.market import ContractLookup
from backend.models.enums import OptimizationStatus
from backend.models.optimization import Optimization
from backend.models.user import User
from backend.schemas.optimizations import OptimizationSweep
from backend.services.backtest.service import with_contract_terms
from backend.services.cta.history import exchange_problem
from backend.services.research.search import GeneticSettings
from backend.services.research.space import (
    OptimizationSpace,
    ParameterRange,
    TooManyCombinationsError,
)
from backend.services.strategy.classes import StrategyKind
from backend.services.strategy.registry import StrategyRegistry

UNFINISHED = (OptimizationStatus.QUEUED, OptimizationStatus.RUNNING)
QUEUED_RETRY_AFTER_SECONDS = 30


class OptimizationNotFoundError(NotFoundError):
    """No such optimisation of this user."""

    code = "optimization_not_found"


class OptimizationFinishedError(ConflictError):
    """Cancelling an optimisation that has already ended."""

    code = "optimization_finished"


class NoValidCombinationError(DomainValidationError):
    """The class refuses every combination of the grid."""

    code = "no_valid_combination"


class TooManyQueuedOptimizationsError(RateLimitedError):
    """The user already has RESEARCH__MAX_QUEUED_PER_USER optimisations queued or running."""

    code = "too_many_queued_optimizations"


@dataclass(frozen=True, slots=True)
class SweepPlan:
    """A validated sweep: its space, genetic settings and how many combinations it counts."""

    space: OptimizationSpace
    genetic: GeneticSettings | None
    total: int


def genetic_settings(request: dict[str, Any]) -> GeneticSettings | None:
    """The stored request's GA settings (None for a grid)."""
    if request.get("method") != "genetic":
        return None
    return GeneticSettings(**request["genetic"])


def plan_sweep(
    registry: StrategyRegistry,
    request: dict[str, Any],
    *,
    max_combinations: int,
    max_genetic_space: int,
) -> SweepPlan:
    """The space of a request (as OptimizationSweep dumps it to JSON); 422 when it cannot run."""
    genetic = genetic_settings(request)
    ranges = [
        ParameterRange(item["name"], Decimal(item["start"]), Decimal(item["end"]),
                       Decimal(item["step"]))
        for item in request["ranges"]
    ]  # fmt: skip
    limit = max_combinations if genetic is None else max_genetic_space
    space = OptimizationSpace.build(
        registry, request["class_name"], request["parameters"], ranges, max_combinations=limit
    )
    if genetic is None:
        return SweepPlan(space, None, space.size)
    if genetic.budget > max_combinations:
        raise TooManyCombinationsError(
            f"population + generations x offspring is {genetic.budget} evaluations: more than "
            f"{max_combinations} (RESEARCH__MAX_COMBINATIONS)"
        )
    return SweepPlan(space, genetic, genetic.budget)


class OptimizationService:
    """Create, read, list and cancel optimisations; the runner changes their status."""

    def __init__(
        self,
        *,
        registry: StrategyRegistry,
        contracts: ContractLookup,
        replica: str,
        max_combinations: int,
        max_genetic_space: int,
        max_queued_per_user: int,
        paper_commission_rate: Decimal,
    ) -> None:
        self.registry = registry
        self.contracts = contracts
        self.replica = replica
        self.max_combinations = max_combinations
        self.max_genetic_space = max_genetic_space
        self.max_queued_per_user = max_queued_per_user
        self.paper_commission_rate = paper_commission_rate

    def plan(self, sweep: OptimizationSweep) -> tuple[dict[str, Any], SweepPlan]:
        """The request as stored and its validated plan; 422 for a class, parameter or range
        that cannot run, or more combinations than allowed."""
        entry = self.registry.entry(sweep.class_name)
        if entry.kind is StrategyKind.CTA and (problem := exchange_problem(sweep.symbol)):
            raise DomainValidationError(problem, code="unknown_exchange")
        request = sweep.model_dump(mode="json", exclude={"settings"})
        plan = plan_sweep(
            self.registry,
            request,
            max_combinations=self.max_combinations,
            max_genetic_space=self.max_genetic_space,
        )
        if plan.genetic is None and not any(
            plan.space.parameters(self.registry, swept) is not None for swept in plan.space.grid()
        ):
            raise NoValidCombinationError(
                f"{sweep.class_name} refuses every combination of the ranges with the fixed "
                "parameters given"
            )
        return request, plan

    async def ensure_capacity(
        self, session: AsyncSession, *, user_id: int, lock: bool = False
    ) -> None:
        """429 `too_many_queued_optimizations` when the user has the most queued or running."""
        if lock:
            await session.execute(
                select(User.id).where(User.id == user_id).with_for_update(key_share=True)
            )
        unfinished = await session.scalar(
            select(func.count())
            .select_from(Optimization)
            .where(Optimization.user_id == user_id, Optimization.status.in_(UNFINISHED))
        )
        limit = self.max_queued_per_user
        if int(unfinished or 0) >= limit:
            raise TooManyQueuedOptimizationsError(
                f"you have {limit} optimisation(s) queued or running, the most one user may "
                "have (RESEARCH__MAX_QUEUED_PER_USER); submit again once one has finished",
                retry_after=QUEUED_RETRY_AFTER_SECONDS,
            )

    async def create(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        sweep: OptimizationSweep,
        request: dict[str, Any],
        plan: SweepPlan,
        source: str,
        bar_count: int,
        bars_csv: bytes | None = None,
    ) -> Optimization:
        """A queued optimisation holding everything it needs to run (again)."""
        await self.ensure_capacity(session, user_id=user_id, lock=True)
        contract = self.contracts(sweep.symbol)
        settings = with_contract_terms(sweep.settings, contract, self.paper_commission_rate)
        optimization = Optimization(
            user_id=user_id,
            status=OptimizationStatus.QUEUED,
            class_name=sweep.class_name,
            symbol=sweep.symbol,
            source=source,
            method=sweep.method,
            target=sweep.target,
            request=request,
            settings=settings.model_dump(mode="json"),
            bar_count=bar_count,
            bars_csv=bars_csv,
            total=plan.total,
            done=0,
            evaluated=0,
            refused=0,
            replica=self.replica,
        )
        session.add(optimization)
        await session.flush()
        return optimization

    async def get(
        self, session: AsyncSession, *, user_id: int, optimization_id: int
    ) -> Optimization:
        """One of the user's optimisations; 404 when missing or someone else's."""
        optimization = await session.get(Optimization, optimization_id)
        if optimization is None or optimization.user_id != user_id:
            raise OptimizationNotFoundError(f"optimization {optimization_id} not found")
        return optimization

    async def list(
        self, session: AsyncSession, *, user_id: int, limit: int, offset: int
    ) -> tuple[Sequence[Optimization], int]:
        """The user's optimisations, newest first, and how many there are."""
        mine = Optimization.user_id == user_id
        total = await session.scalar(select(func.count()).select_from(Optimization).where(mine))
        rows = await session.scalars(
            select(Optimization)
            .where(mine)
            .order_by(Optimization.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return rows.all(), int(total or 0)

    async def cancel(
        self, session: AsyncSession, *, user_id: int, optimization_id: int
    ) -> Optimization:
        """queued | running -> cancelled (the runner stops at its next combination); 409
        `optimization_finished` once it has ended."""
        optimization = await self.get(session, user_id=user_id, optimization_id=optimization_id)
        cancelled = await cancel_unfinished(
            session, Optimization, optimization_id, unfinished=UNFINISHED,
            cancelled=OptimizationStatus.CANCELLED,
        )  # fmt: skip
        if not cancelled:
            await session.refresh(optimization)
            raise OptimizationFinishedError(
                f"optimization {optimization_id} is {optimization.status.value}"
            )
        await session.refresh(optimization)
        return optimization
