"""Strategies: registered classes, and a user's stored strategies (create, read, change)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep
from backend.api.deps.identity import CurrentUser, TraderUser
from backend.api.deps.parameters import IntegerId, PageParamsDep
from backend.api.deps.platform import StrategyControlDep, StrategyServiceDep
from backend.api.responses import error_responses
from backend.models.strategy import Strategy
from backend.schemas.common import Page
from backend.schemas.strategies import (
    StrategyClassRead,
    StrategyCreate,
    StrategyRead,
    StrategyUpdate,
)

router = APIRouter(prefix=f"{API_PREFIX}/strategies", tags=["strategies"], route_class=ApiRoute)


@router.get("/classes", response_model=list[StrategyClassRead], responses=error_responses(401))
async def list_strategy_classes(
    _: CurrentUser, control: StrategyControlDep
) -> list[StrategyClassRead]:
    """Every class, RedFire's and vnpy CTA ones, with its parameter schema or why it is unusable."""
    return control.classes()


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=StrategyRead,
    responses=error_responses(400, 401, 403, 409, 422),
)
async def create_strategy(
    request: StrategyCreate, user: TraderUser, session: SessionDep, strategies: StrategyServiceDep
) -> Strategy:
    """201 with the new, stopped strategy; 422 unknown class, bad parameters or symbol."""
    return await strategies.create(session, user_id=user.id, **request.model_dump())


@router.get("", response_model=Page[StrategyRead], responses=error_responses(401, 422))
async def list_strategies(
    user: CurrentUser, session: SessionDep, page: PageParamsDep, strategies: StrategyServiceDep
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
    strategy_id: IntegerId, user: CurrentUser, session: SessionDep, strategies: StrategyServiceDep
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
    strategies: StrategyServiceDep,
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
    strategy_id: IntegerId, user: TraderUser, session: SessionDep, strategies: StrategyServiceDep
) -> None:
    """Delete; 409 `strategy_running` while it runs."""
    await strategies.delete(session, user_id=user.id, strategy_id=strategy_id)
