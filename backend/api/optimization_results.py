"""A user's optimisations: the list, one optimisation's progress and best runs, and cancel."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep, UnitOfWorkDep
from backend.api.deps.identity import CurrentUser, TraderUser
from backend.api.deps.parameters import IntegerId, PageParamsDep
from backend.api.deps.research import OptimizationServiceDep, OptimizationSubmissionDep
from backend.api.responses import error_responses
from backend.models.optimization import Optimization
from backend.schemas.common import Page
from backend.schemas.optimizations import OptimizationRead, OptimizationSummary

router = APIRouter(
    prefix=f"{API_PREFIX}/optimizations", tags=["optimizations"], route_class=ApiRoute
)


@router.get("", response_model=Page[OptimizationSummary], responses=error_responses(401, 422))
async def list_optimizations(
    user: CurrentUser,
    session: SessionDep,
    page: PageParamsDep,
    optimizations: OptimizationServiceDep,
) -> Page[OptimizationSummary]:
    """The caller's optimisations, newest first."""
    items, total = await optimizations.list(
        session, user_id=user.id, limit=page.limit, offset=page.offset
    )
    return Page[OptimizationSummary](
        items=[OptimizationSummary.model_validate(item) for item in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/{optimization_id}", response_model=OptimizationRead, responses=error_responses(401, 404, 422)
)
async def get_optimization(
    optimization_id: IntegerId,
    user: CurrentUser,
    session: SessionDep,
    optimizations: OptimizationServiceDep,
) -> Optimization:
    """Status and progress (`done` of `total`); once finished, the best runs."""
    return await optimizations.get(session, user_id=user.id, optimization_id=optimization_id)


@router.post(
    "/{optimization_id}/cancel",
    response_model=OptimizationRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def cancel_optimization(
    optimization_id: IntegerId,
    user: TraderUser,
    work: UnitOfWorkDep,
    submission: OptimizationSubmissionDep,
) -> Optimization:
    """Stop a queued or running optimisation; 409 `optimization_finished` once it has ended."""
    return await submission.cancel(work, user_id=user.id, optimization_id=optimization_id)
