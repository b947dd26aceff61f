"""Strategies: registered classes, a user's strategies, start/stop and live status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from backend.api.deps import (
    ContainerDep,
    CurrentUser,
    IntegerId,
    PageParamsDep,
    SessionDep,
    TraderUser,
)
from backend.api.prefix import API_PREFIX
from backend.api.responses import error_responses
from backend.api.routing import StrictJSONRoute
from backend.models.enums import StrategyStatus
from backend.models.strategy import Strategy
from backend.schemas.common import Page
from backend.schemas.strategies import (
    StrategyClassRead,
    StrategyCreate,
    StrategyRead,
    StrategyStatusRead,
    StrategyUpdate,
)
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.repository import to_record
from backend.services.strategy.service import StrategyService

router = APIRouter(
    prefix=f"{API_PREFIX}/strategies", tags=["strategies"], route_class=StrictJSONRoute
)


async def get_strategy_engine(container: ContainerDep) -> StrategyEngine:
    """The replica's strategy engine."""
    return container.strategies


EngineDep = Annotated[StrategyEngine, Depends(get_strategy_engine)]


async def get_strategy_service(engine: EngineDep, container: ContainerDep) -> StrategyService:
    """Validation against the engine's registry and the listed contracts."""
    contracts = container.trading.market.get_contract
    return StrategyService(registry=engine.registry, contracts=contracts)


ServiceDep = Annotated[StrategyService, Depends(get_strategy_service)]


@router.get("/classes", response_model=list[StrategyClassRead], responses=error_responses(401))
async def list_strategy_classes(_: CurrentUser, engine: EngineDep) -> list[StrategyClassRead]:
    """Every class, RedFire's and vnpy CTA ones, with its parameter schema or why it is unusable."""
    return [
        StrategyClassRead(
            class_name=entry.class_name,
            kind=entry.kind.value if entry.kind else None,
            description=entry.description,
            available=entry.available,
            reason=entry.reason,
            parameters=entry.parameters,
            variables=entry.variables,
            source=entry.source,
        )
        for entry in engine.registry.describe()
    ]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=StrategyRead,
    responses=error_responses(400, 401, 403, 409, 422),
)
async def create_strategy(
    request: StrategyCreate, user: TraderUser, session: SessionDep, strategies: ServiceDep
) -> Strategy:
    """201 with the new, stopped strategy; 422 unknown class, bad parameters or symbol."""
    return await strategies.create(session, user_id=user.id, **request.model_dump())


@router.get("", response_model=Page[StrategyRead], responses=error_responses(401, 422))
async def list_strategies(
    user: CurrentUser, session: SessionDep, page: PageParamsDep, strategies: ServiceDep
) -> Page[StrategyRead]:
    """The caller's strategies, oldest first."""
    items, total = await strategies.list(
        session, user_id=user.id, limit=page.limit, offset=page.offset
    )
    return Page[StrategyRead](
        items=[StrategyRead.model_validate(item) for item in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{strategy_id}", response_model=StrategyRead, responses=error_responses(401, 404, 422))
async def get_strategy(
    strategy_id: IntegerId, user: CurrentUser, session: SessionDep, strategies: ServiceDep
) -> Strategy:
    """One of the caller's strategies."""
    return await strategies.get(session, user_id=user.id, strategy_id=strategy_id)


@router.patch(
    "/{strategy_id}",
    response_model=StrategyRead,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def update_strategy(
    strategy_id: IntegerId,
    request: StrategyUpdate,
    user: TraderUser,
    session: SessionDep,
    strategies: ServiceDep,
) -> Strategy:
    """Rename or re-parameterize; 409 `strategy_running` while it runs."""
    return await strategies.update(
        session, user_id=user.id, strategy_id=strategy_id, **request.model_dump()
    )


@router.delete(
    "/{strategy_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def delete_strategy(
    strategy_id: IntegerId, user: TraderUser, session: SessionDep, strategies: ServiceDep
) -> None:
    """Delete; 409 `strategy_running` while it runs."""
    await strategies.delete(session, user_id=user.id, strategy_id=strategy_id)


@router.post(
    "/{strategy_id}/start",
    response_model=StrategyRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def start_strategy(
    strategy_id: IntegerId,
    user: TraderUser,
    session: SessionDep,
    strategies: ServiceDep,
    engine: EngineDep,
) -> Strategy:
    """Desired state running; this replica runs it at once if it can own it."""
    strategy = await strategies.request_start(session, user_id=user.id, strategy_id=strategy_id)
    # The engine works in its own sessions and other replicas read the status: commit first.
    await session.commit()
    await engine.start_strategy(to_record(strategy))
    await session.refresh(strategy)
    return strategy


@router.post(
    "/{strategy_id}/stop",
    response_model=StrategyRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def stop_strategy(
    strategy_id: IntegerId,
    user: TraderUser,
    session: SessionDep,
    strategies: ServiceDep,
    engine: EngineDep,
) -> Strategy:
    """Desired state stopped; its owner stops it at once, on whichever replica it runs."""
    strategy = await strategies.request_stop(session, user_id=user.id, strategy_id=strategy_id)
    await session.commit()
    await engine.stop_strategy(strategy.id)
    return strategy


@router.get(
    "/{strategy_id}/status",
    response_model=StrategyStatusRead,
    responses=error_responses(401, 404, 422),
)
async def get_strategy_status(
    strategy_id: IntegerId,
    user: CurrentUser,
    session: SessionDep,
    strategies: ServiceDep,
    engine: EngineDep,
) -> StrategyStatusRead:
    """Live status from the replica that runs it; otherwise what it last reported (counters,
    position, last event), kept with the strategy when it stopped."""
    strategy = await strategies.get(session, user_id=user.id, strategy_id=strategy_id)
    live: dict[str, Any] = {}
    if strategy.status is StrategyStatus.RUNNING:
        live = await engine.get_strategy_status(strategy.id) or {}
    if not live:
        return StrategyStatusRead(
            strategy_id=strategy.id,
            status=strategy.status,
            running=False,
            config=strategy.parameters,
            position=strategy.position,
            ticks_processed=strategy.ticks_processed,
            orders_placed=strategy.orders_placed,
            last_error=strategy.last_error,
            last_update=strategy.last_update,
            owner=await engine.owner_of(strategy.id),
            variables=strategy.variables,
        )
    return StrategyStatusRead(
        strategy_id=strategy.id,
        status=strategy.status,
        running=bool(live.get("running", False)),
        config=live.get("config", strategy.parameters),
        position=live.get("position"),
        ticks_processed=live.get("ticks_processed", 0),
        orders_placed=live.get("orders_placed", 0),
        last_error=strategy.last_error,
        last_update=live.get("last_update"),
        owner=live.get("owner") or await engine.owner_of(strategy.id),
        indicators=live.get("indicators"),
        variables=live.get("variables"),
    )
