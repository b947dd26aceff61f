"""Strategies in motion: start, stop and live status."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep, UnitOfWorkDep
from backend.api.deps.identity import CurrentUser, TraderUser
from backend.api.deps.parameters import IntegerId
from backend.api.deps.platform import StrategyControlDep
from backend.api.responses import error_responses
from backend.models.strategy import Strategy
from backend.schemas.strategies import StrategyRead, StrategyStatusRead

router = APIRouter(prefix=f"{API_PREFIX}/strategies", tags=["strategies"], route_class=ApiRoute)


@router.post(
    "/{strategy_id}/start",
    response_model=StrategyRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def start_strategy(
    strategy_id: IntegerId, user: TraderUser, work: UnitOfWorkDep, control: StrategyControlDep
) -> Strategy:
    """Desired state running; this replica runs it at once if it can own it."""
    return await control.start(work, user_id=user.id, strategy_id=strategy_id)


@router.post(
    "/{strategy_id}/stop",
    response_model=StrategyRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def stop_strategy(
    strategy_id: IntegerId, user: TraderUser, work: UnitOfWorkDep, control: StrategyControlDep
) -> Strategy:
    """Desired state stopped; its owner stops it at once, on whichever replica it runs."""
    return await control.stop(work, user_id=user.id, strategy_id=strategy_id)


@router.get(
    "/{strategy_id}/status",
    response_model=StrategyStatusRead,
    responses=error_responses(401, 404, 422),
)
async def get_strategy_status(
    strategy_id: IntegerId, user: CurrentUser, session: SessionDep, control: StrategyControlDep
) -> StrategyStatusRead:
    """Live status from the replica that runs it; otherwise what it last reported (counters,
    position, last event), kept with the strategy when it stopped."""
    return await control.status(session, user_id=user.id, strategy_id=strategy_id)
