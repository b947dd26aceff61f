"""Grid and genetic search over an OptimizationSpace, each combination run as one backtest.

Both are blocking (run them on a thread): the combinations go to a process pool (or run here,
one after another, without one) and the search waits for them, reporting progress and stopping
when cancelled. The genetic search is DEAP's (mu + lambda) evolution, as vnpy's
`run_ga_optimization`, over indices into each swept parameter's values; a combination is run
once however often the evolution meets it.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from deap import algorithms, base, creator, tools

from backend.services.research.evaluation import SweepInputs, evaluate
from backend.services.research.space import OptimizationSpace
from backend.services.strategy.registry import StrategyRegistry

Progress = Callable[[int, int], None]
# Every statistic a run can be ranked by: vnpy's numeric ones.
TARGETS = (
    "sharpe_ratio", "total_return", "annual_return", "daily_return", "return_std",
    "max_ddpercent", "ewm_sharpe", "return_drawdown_ratio", "rgr_ratio", "daily_trade_count",
    "end_balance", "max_drawdown", "total_net_pnl", "daily_net_pnl", "total_commission",
    "daily_commission", "total_slippage", "daily_slippage", "total_turnover", "daily_turnover",
    "total_days", "profit_days", "loss_days", "max_drawdown_duration", "total_trade_count",
)  # fmt: skip


class SweepCancelledError(RuntimeError):
    """The optimisation was cancelled while it ran."""


@dataclass(frozen=True, slots=True)
class GeneticSettings:
    """vnpy's GA settings: population (mu), offspring per generation (lambda), generations,
    crossover and mutation probabilities; `seed` makes a search repeatable."""

    population: int = 20
    offspring: int = 20
    generations: int = 5
    crossover: float = 0.5
    mutation: float = 0.3
    seed: int = 0

    @property
    def budget(self) -> int:
        """The most evaluations the evolution asks for."""
        return self.population + self.generations * self.offspring


@dataclass(frozen=True, slots=True)
class Run:
    """One evaluated combination: its full parameters and statistics, and the target's value."""

    parameters: dict[str, Any]
    statistics: dict[str, Any]
    score: Decimal | None

    def record(self) -> dict[str, Any]:
        """As stored and served."""
        return {"parameters": self.parameters, "statistics": self.statistics}


@dataclass(slots=True)
class SweepOutcome:
    """Every run, best first, and how many combinations the class refused."""

    runs: list[Run]
    refused: int = 0
    evaluated: int = 0
    errors: list[str] = field(default_factory=list)


def score(statistics: dict[str, Any], target: str) -> Decimal | None:
    """The target statistic as an exact number (None when undefined)."""
    value = statistics.get(target)
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def ranked(runs: Sequence[Run]) -> list[Run]:
    """Best first (highest score, as vnpy maximises); ties and undefined scores keep their
    order of evaluation, undefined last."""
    order = sorted(
        range(len(runs)),
        key=lambda i: (runs[i].score is None, -(runs[i].score or 0), i),
    )
    return [runs[i] for i in order]


class Sweep:
    """Evaluates batches of parameter sets in a pool (or here), counting progress."""

    def __init__(
        self,
        inputs: SweepInputs,
        executor: Executor | None,
        *,
        total: int,
        progress: Progress | None = None,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.inputs = inputs
        self.executor = executor
        self.total = total
        self.done = 0
        self.progress = progress
        self.cancelled = cancelled or threading.Event()

    def _advance(self, count: int = 1) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)

    def _check(self) -> None:
        if self.cancelled.is_set():
            raise SweepCancelledError("cancelled")

    def map(self, batch: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Statistics of each parameter set, in order; raises what a run raised."""
        self._check()
        if self.executor is None:
            results = []
            for parameters in batch:
                results.append(evaluate(self.inputs, parameters))
                self._advance()
                self._check()
            return results
        futures: list[Future[dict[str, Any]]] = [
            self.executor.submit(evaluate, self.inputs, parameters) for parameters in batch
        ]
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()  # a failed run fails the sweep
                if finished:
                    self._advance(len(finished))
                self._check()
        finally:
            for future in pending:
                future.cancel()
        return [future.result() for future in futures]


def _validated(
    space: OptimizationSpace, registry: StrategyRegistry, swept: dict[str, Any]
) -> dict[str, Any] | None:
    parameters = space.parameters(registry, swept)
    return None if parameters is None else parameters.model_dump(mode="json")


def grid_search(
    space: OptimizationSpace, registry: StrategyRegistry, sweep: Sweep, target: str
) -> SweepOutcome:
    """Every combination the class accepts, ranked by `target`."""
    candidates = [_validated(space, registry, swept) for swept in space.grid()]
    accepted = [parameters for parameters in candidates if parameters is not None]
    refused = len(candidates) - len(accepted)
    if refused:
        sweep._advance(refused)
    statistics = sweep.map(accepted)
    runs = [
        Run(parameters, stats, score(stats, target))
        for parameters, stats in zip(accepted, statistics, strict=True)
    ]
    return SweepOutcome(ranked(runs), refused=refused, evaluated=len(runs))


def _deap_types() -> tuple[Any, Any]:
    # DEAP's creator makes module-level classes: made once per process.
    if not hasattr(creator, "RedFireFitness"):
        creator.create("RedFireFitness", base.Fitness, weights=(1.0,))
        creator.create("RedFireIndividual", list, fitness=creator.RedFireFitness)
    return creator.RedFireFitness, creator.RedFireIndividual


def genetic_search(
    space: OptimizationSpace,
    registry: StrategyRegistry,
    sweep: Sweep,
    target: str,
    settings: GeneticSettings,
) -> SweepOutcome:
    """DEAP's eaMuPlusLambda over the grid's indices, ranked by `target`."""
    _, individual_type = _deap_types()
    rng = random.Random(settings.seed)  # noqa: S311 (a search, not a secret)
    sizes = [len(values) for _, values in space.axes]
    seen: dict[tuple[int, ...], Run | None] = {}
    outcome = SweepOutcome([])

    def evaluate_batch(_: Any, individuals: Sequence[list[int]]) -> list[tuple[float]]:
        fresh: dict[tuple[int, ...], dict[str, Any]] = {}
        for individual in individuals:
            key = tuple(individual)
            if key in seen or key in fresh:
                continue
            parameters = _validated(space, registry, space.combination(key))
            if parameters is None:
                seen[key] = None
                outcome.refused += 1
            else:
                fresh[key] = parameters
        statistics = sweep.map(list(fresh.values()))
        for (key, parameters), stats in zip(fresh.items(), statistics, strict=True):
            seen[key] = Run(parameters, stats, score(stats, target))
        repeats = len(individuals) - len(fresh)
        if repeats:
            sweep._advance(repeats)
        fitness = []
        for individual in individuals:
            run = seen[tuple(individual)]
            value = run.score if run is not None else None
            fitness.append((float(value) if value is not None else -math.inf,))
        return fitness

    def random_individual() -> Any:
        return individual_type(rng.randrange(size) for size in sizes)

    def mutate(individual: list[int]) -> tuple[list[int]]:
        position = rng.randrange(len(individual))
        individual[position] = rng.randrange(sizes[position])
        return (individual,)

    def crossover(first: list[int], second: list[int]) -> tuple[list[int], list[int]]:
        for position in range(len(first)):
            if rng.random() < 0.5:
                first[position], second[position] = second[position], first[position]
        return first, second

    toolbox = base.Toolbox()
    toolbox.register("evaluate", lambda individual: (0.0,))
    toolbox.register("map", evaluate_batch)
    toolbox.register("mate", crossover)
    toolbox.register("mutate", mutate)
    toolbox.register("select", tools.selBest)
    population = [random_individual() for _ in range(settings.population)]
    # eaMuPlusLambda draws from the module-level `random`: seeded for the evolution's choices.
    state = random.getstate()
    random.seed(settings.seed)
    try:
        algorithms.eaMuPlusLambda(
            population, toolbox, mu=settings.population, lambda_=settings.offspring,
            cxpb=settings.crossover, mutpb=settings.mutation, ngen=settings.generations,
            verbose=False,
        )  # fmt: skip
    finally:
        random.setstate(state)
    runs = [run for run in seen.values() if run is not None]
    outcome.runs = ranked(runs)
    outcome.evaluated = len(runs)
    return outcome
