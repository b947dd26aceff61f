"""StrategyService: a user's strategies, their parameters and their desired status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import ConflictError, DomainValidationError, NotFoundError
from backend.domain.market import ContractLookup
from backend.models.enums import StrategyStatus
from backend.models.strategy import Strategy
from backend.services.strategy.registry import StrategyRegistry
from backend.services.strategy.repository import StrategyRepository


class StrategyNotFoundError(NotFoundError):
    """No such strategy, or not yours."""

    code = "strategy_not_found"


class StrategyRunningError(ConflictError):
    """Only a stopped strategy can be changed or deleted."""

    code = "strategy_running"


class StrategyNameTakenError(ConflictError):
    """The user already has a strategy with this name."""

    code = "strategy_name_taken"


class UnknownSymbolError(DomainValidationError):
    """The symbol is not a listed contract."""

    code = "unknown_symbol"


OWNER_CANNOT_TRADE = "stopped: its owner can no longer trade (deactivated or made a viewer)"


async def stop_strategies_of(session: AsyncSession, user_id: int) -> list[int]:
    """Stop (desired state) every running strategy of a user who may no longer trade.

    Returns their ids, for the caller to pass to `StrategyEngine.stop_strategy` once committed
    (it stops them here or tells the replica that runs them).
    """
    return await StrategyRepository(session).stop_all_of(user_id, OWNER_CANNOT_TRADE)


class StrategyService:
    """Validation and state changes of stored strategies; the engine acts on the status."""

    def __init__(self, *, registry: StrategyRegistry, contracts: ContractLookup) -> None:
        self.registry = registry
        self.contracts = contracts

    async def create(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        name: str,
        class_name: str,
        symbol: str,
        parameters: dict[str, Any],
    ) -> Strategy:
        """A new stopped strategy; 422 for an unknown class, bad parameters or unknown symbol."""
        self.registry.validate(class_name, parameters)
        contract = self.contracts(symbol)
        if contract is None:
            raise UnknownSymbolError(f"{symbol} is not a listed contract")
        stored = self.registry.normalize(class_name, parameters, contract)
        repository = StrategyRepository(session)
        if await repository.name_taken(user_id, name):
            raise StrategyNameTakenError(f"a strategy named {name!r} exists")
        return await repository.create(
            user_id=user_id,
            name=name,
            class_name=class_name,
            symbol=symbol,
            parameters=stored,
            status=StrategyStatus.STOPPED,
        )

    async def list(
        self, session: AsyncSession, *, user_id: int, limit: int, offset: int
    ) -> tuple[Sequence[Strategy], int]:
        """A page of the user's strategies and how many there are."""
        repository = StrategyRepository(session)
        items = await repository.list_owned(user_id, limit=limit, offset=offset)
        return items, await repository.count_owned(user_id)

    async def get(self, session: AsyncSession, *, user_id: int, strategy_id: int) -> Strategy:
        """The user's strategy; 404 when missing or someone else's."""
        strategy = await StrategyRepository(session).get_owned(strategy_id, user_id)
        if strategy is None:
            raise StrategyNotFoundError(f"strategy {strategy_id} not found")
        return strategy

    async def update(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        strategy_id: int,
        name: str | None,
        parameters: dict[str, Any] | None,
    ) -> Strategy:
        """Rename or re-parameterize a strategy that is not running."""
        strategy = await self._get_not_running(session, user_id=user_id, strategy_id=strategy_id)
        repository = StrategyRepository(session)
        values: dict[str, Any] = {}
        if parameters is not None:
            contract = self.contracts(strategy.symbol)
            values["parameters"] = self.registry.normalize(
                strategy.class_name, parameters, contract
            )
        if name is not None and name != strategy.name:
            if await repository.name_taken(user_id, name, excluding=strategy.id):
                raise StrategyNameTakenError(f"a strategy named {name!r} exists")
            values["name"] = name
        return await repository.update(strategy, **values) if values else strategy

    async def delete(self, session: AsyncSession, *, user_id: int, strategy_id: int) -> None:
        """Delete a strategy that is not running."""
        strategy = await self._get_not_running(session, user_id=user_id, strategy_id=strategy_id)
        await StrategyRepository(session).delete(strategy)

    async def request_start(
        self, session: AsyncSession, *, user_id: int, strategy_id: int
    ) -> Strategy:
        """Desired state running (a no-op when already running); clears the last error.

        422 when its class cannot run (unknown or unavailable).
        """
        strategy = await self.get(session, user_id=user_id, strategy_id=strategy_id)
        if strategy.status is StrategyStatus.RUNNING:
            return strategy
        self.registry.entry(strategy.class_name)
        return await StrategyRepository(session).update(
            strategy, status=StrategyStatus.RUNNING, last_error=None
        )

    async def request_stop(
        self, session: AsyncSession, *, user_id: int, strategy_id: int
    ) -> Strategy:
        """Desired state stopped; an errored strategy becomes stopped and keeps its last error."""
        strategy = await self.get(session, user_id=user_id, strategy_id=strategy_id)
        if strategy.status is StrategyStatus.STOPPED:
            return strategy
        return await StrategyRepository(session).update(strategy, status=StrategyStatus.STOPPED)

    async def _get_not_running(
        self, session: AsyncSession, *, user_id: int, strategy_id: int
    ) -> Strategy:
        strategy = await self.get(session, user_id=user_id, strategy_id=strategy_id)
        if strategy.status is StrategyStatus.RUNNING:
            raise StrategyRunningError(f"strategy {strategy_id} is running; stop it first")
        return strategy
