"""Optimisations: sweep a strategy class's parameters over stored or uploaded bars, rank runs."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from backend.api.backtests import _json_body, _validation_error
from backend.api.deps import (
    ContainerDep,
    CurrentUser,
    IntegerId,
    PageParamsDep,
    SessionDep,
    TraderUser,
)
from backend.api.openapi import component_ref
from backend.api.prefix import API_PREFIX
from backend.api.responses import error_responses
from backend.core.errors import DomainValidationError
from backend.models.optimization import Optimization
from backend.schemas.common import Page
from backend.schemas.optimizations import (
    OptimizationAccepted,
    OptimizationFromHistory,
    OptimizationRead,
    OptimizationSummary,
    OptimizationSweep,
)
from backend.services.backtest.bars import InvalidBarDataError, parse_csv_bars
from backend.services.backtest.history_feed import NoStoredBarsError
from backend.services.backtest.window import split_at
from backend.services.market.intervals import BarInterval
from backend.services.research.service import OptimizationService

router = APIRouter(prefix=f"{API_PREFIX}/optimizations", tags=["optimizations"])
_FROM_HISTORY: TypeAdapter[OptimizationFromHistory] = TypeAdapter(OptimizationFromHistory)

_CREATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": component_ref(OptimizationFromHistory)},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "optimization"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "CSV: "
                                 "datetime,open,high,low,close,volume"},
                        "optimization": {"type": "string",
                                         "description": "JSON OptimizationSweep"},
                    },
                }
            },
        },
    }
}  # fmt: skip


async def get_optimization_service(container: ContainerDep) -> OptimizationService:
    """Checked against the strategy registry and the listed contracts; rows carry this replica."""
    config = container.config
    return OptimizationService(
        registry=container.strategies.registry,
        contracts=container.trading.market.get_contract,
        replica=config.replica_id,
        max_combinations=config.research.max_combinations,
        max_genetic_space=config.research.max_genetic_space,
        max_queued_per_user=config.research.max_queued_per_user,
        paper_commission_rate=config.vnpy.paper_commission_rate,
    )


ServiceDep = Annotated[OptimizationService, Depends(get_optimization_service)]


async def _from_history(
    request: Request, user_id: int, session: SessionDep, service: OptimizationService,
    container: ContainerDep,
) -> OptimizationAccepted:  # fmt: skip
    body = await _json_body(request, container.config.max_body_bytes)
    try:
        create = _FROM_HISTORY.validate_json(body)
    except ValidationError as exc:
        raise _validation_error(exc, ("body",)) from None
    stored, plan = service.plan(create)
    await service.ensure_capacity(session, user_id=user_id)
    await session.commit()
    interval = BarInterval(create.interval)
    count = await container.history.reader.count(create.symbol, interval, create.start, create.end)
    if count == 0:
        raise NoStoredBarsError(
            f"no stored {interval.value} bars of {create.symbol} in [{create.start.isoformat()}, "
            f"{create.end.isoformat()})"
        )
    max_bars = container.config.backtest.max_bars
    if count > max_bars:
        raise InvalidBarDataError(f"{count} bars in the range: more than {max_bars}")
    optimization = await service.create(
        session, user_id=user_id, sweep=create, request=stored, plan=plan, source="history",
        bar_count=count,
    )  # fmt: skip
    await session.commit()
    container.research.submit(optimization.id)
    return OptimizationAccepted(id=optimization.id, status=optimization.status, total=plan.total)


def _sweep(form: Any) -> OptimizationSweep:
    raw = form.get("optimization")
    if not isinstance(raw, str) or not raw:
        error = {"type": "missing", "loc": ("body", "optimization"), "msg": "JSON is required"}
        raise RequestValidationError([error])
    try:
        value = json.loads(raw)
    except ValueError:
        error = {"type": "json_invalid", "loc": ("body", "optimization"), "msg": "must be JSON"}
        raise RequestValidationError([error]) from None
    try:
        return OptimizationSweep.model_validate(value)
    except ValidationError as exc:
        raise _validation_error(exc, ("body", "optimization")) from None


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OptimizationAccepted,
    responses=error_responses(400, 401, 403, 413, 422, 429),
    openapi_extra=_CREATE_BODY,
)
async def create_optimization(
    request: Request,
    user: TraderUser,
    session: SessionDep,
    service: ServiceDep,
    container: ContainerDep,
) -> OptimizationAccepted:
    """202, the id to poll and the number of combinations; 422 for a bad class, parameters,
    range, target, CSV or bars; 422 `too_many_combinations` beyond RESEARCH__MAX_COMBINATIONS;
    429 `too_many_queued_optimizations`."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return await _from_history(request, user.id, session, service, container)
    if not content_type.startswith("multipart/form-data"):
        raise DomainValidationError("send JSON (stored bars), or multipart/form-data with a CSV")
    await service.ensure_capacity(session, user_id=user.id)
    await session.commit()
    async with request.form(max_files=1, max_fields=4) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            error = {"type": "missing", "loc": ("body", "file"), "msg": "a CSV file is required"}
            raise RequestValidationError([error])
        create = _sweep(form)
        stored, plan = service.plan(create)
        max_bars = container.config.backtest.max_bars
        content = await upload.read()
    bars = await asyncio.to_thread(parse_csv_bars, content, symbol=create.symbol, max_bars=max_bars)
    if not split_at(bars, create.settings.start)[1].bar_count:
        raise InvalidBarDataError(f"no bar at or after settings.start {create.settings.start}")
    packed = await asyncio.to_thread(gzip.compress, content, 6)
    optimization = await service.create(
        session, user_id=user.id, sweep=create, request=stored, plan=plan, source="csv",
        bar_count=bars.bar_count, bars_csv=packed,
    )  # fmt: skip
    await session.commit()
    container.research.submit(optimization.id)
    return OptimizationAccepted(id=optimization.id, status=optimization.status, total=plan.total)


@router.get("", response_model=Page[OptimizationSummary], responses=error_responses(401, 422))
async def list_optimizations(
    user: CurrentUser, session: SessionDep, page: PageParamsDep, service: ServiceDep
) -> Page[OptimizationSummary]:
    """The caller's optimisations, newest first."""
    items, total = await service.list(
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
    optimization_id: IntegerId, user: CurrentUser, session: SessionDep, service: ServiceDep
) -> Optimization:
    """Status and progress (`done` of `total`); once finished, the best runs."""
    return await service.get(session, user_id=user.id, optimization_id=optimization_id)


@router.post(
    "/{optimization_id}/cancel",
    response_model=OptimizationRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def cancel_optimization(
    optimization_id: IntegerId,
    user: TraderUser,
    session: SessionDep,
    service: ServiceDep,
    container: ContainerDep,
) -> Optimization:
    """Stop a queued or running optimisation; 409 `optimization_finished` once it has ended."""
    optimization = await service.cancel(session, user_id=user.id, optimization_id=optimization_id)
    await session.commit()
    container.research.cancel(optimization_id)
    return optimization
