"""Optimisations: sweep a strategy class's parameters over stored or uploaded bars."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile

from backend.api import optimization_bodies
from backend.api.api_route import ApiRoute
from backend.api.backtest_bodies import json_body
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import ConfigDep, UnitOfWorkDep
from backend.api.deps.identity import TraderUser
from backend.api.deps.research import OptimizationSubmissionDep
from backend.api.responses import error_responses
from backend.core.errors import DomainValidationError
from backend.schemas.optimizations import OptimizationAccepted
from backend.services.backtest.bars import parse_csv_bars

router = APIRouter(
    prefix=f"{API_PREFIX}/optimizations", tags=["optimizations"], route_class=ApiRoute
)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OptimizationAccepted,
    responses=error_responses(400, 401, 403, 413, 422, 429),
    openapi_extra=optimization_bodies.CREATE_BODY,
)
async def create_optimization(
    request: Request,
    user: TraderUser,
    work: UnitOfWorkDep,
    submission: OptimizationSubmissionDep,
    config: ConfigDep,
) -> OptimizationAccepted:
    """202, the id to poll and the number of combinations; 422 for a bad class, parameters,
    range, target, CSV or bars; 422 `too_many_combinations` beyond RESEARCH__MAX_COMBINATIONS;
    429 `too_many_queued_optimizations`."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await json_body(request, config.max_body_bytes)
        create = optimization_bodies.from_history(body)
        optimization = await submission.from_history(work, user_id=user.id, create=create)
        return OptimizationAccepted(
            id=optimization.id, status=optimization.status, total=optimization.total
        )
    if not content_type.startswith("multipart/form-data"):
        raise DomainValidationError("send JSON (stored bars), or multipart/form-data with a CSV")
    await submission.reserve(work, user_id=user.id)
    async with request.form(max_files=1, max_fields=4) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            error = {"type": "missing", "loc": ("body", "file"), "msg": "a CSV file is required"}
            raise RequestValidationError([error])
        sweep = optimization_bodies.sweep(form)
        planned = submission.plan(sweep)
        content = await upload.read()
    bars = await asyncio.to_thread(
        parse_csv_bars, content, symbol=sweep.symbol, max_bars=submission.max_bars
    )
    optimization = await submission.from_upload(
        work, user_id=user.id, create=sweep, planned=planned, bars=bars, content=content
    )
    return OptimizationAccepted(
        id=optimization.id, status=optimization.status, total=optimization.total
    )
