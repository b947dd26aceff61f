"""Backtests: upload bars or name stored ones, and run a registered strategy class over them."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from backend.api.api_route import ApiRoute
from backend.api.backtest_bodies import (
    CREATE_BODY,
    JSON_BODY,
    create_request,
    json_body,
    validation_error,
)
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import ConfigDep, UnitOfWorkDep
from backend.api.deps.identity import TraderUser
from backend.api.deps.parameters import IntegerId
from backend.api.deps.platform import BacktestSubmissionDep
from backend.api.responses import error_responses
from backend.core.errors import DomainValidationError
from backend.models.backtest import Backtest
from backend.schemas.backtests import BacktestAccepted, BacktestRead
from backend.services.backtest.bars import parse_csv_bars

router = APIRouter(prefix=f"{API_PREFIX}/backtests", tags=["backtests"], route_class=ApiRoute)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BacktestAccepted,
    responses=error_responses(400, 401, 403, 413, 422, 429),
    openapi_extra=CREATE_BODY,
)
async def create_backtest(
    request: Request,
    user: TraderUser,
    work: UnitOfWorkDep,
    submission: BacktestSubmissionDep,
    config: ConfigDep,
) -> BacktestAccepted:
    """202 and the id to poll; 422 for a bad CSV (naming the line), class or parameters;
    429 `too_many_queued_backtests` when the caller has BACKTEST__MAX_QUEUED_PER_USER."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await json_body(request, config.max_body_bytes)
        try:
            create = JSON_BODY.validate_json(body)
        except ValidationError as exc:
            raise validation_error(exc, ("body",)) from None
        backtest = await submission.from_history(work, user_id=user.id, create=create)
        return BacktestAccepted(id=backtest.id, status=backtest.status)
    if not content_type.startswith("multipart/form-data"):
        raise DomainValidationError("send multipart/form-data with a CSV file, or JSON")
    await submission.reserve(work, user_id=user.id)
    # The upload is spooled to a temporary file (on disk past 1 MiB) and parsed from there.
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            error = {"type": "missing", "loc": ("body", "file"), "msg": "a CSV file is required"}
            raise RequestValidationError([error])
        create_csv = create_request(form)
        submission.check_class(create_csv)
        bars = await asyncio.to_thread(
            parse_csv_bars, upload.file, symbol=create_csv.symbol, max_bars=submission.max_bars
        )
        kept = await submission.kept_upload(upload.file)
    backtest = await submission.from_upload(
        work, user_id=user.id, create=create_csv, bars=bars, bars_csv=kept
    )
    return BacktestAccepted(id=backtest.id, status=backtest.status)


@router.post(
    "/{backtest_id}/cancel",
    response_model=BacktestRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def cancel_backtest(
    backtest_id: IntegerId, user: TraderUser, work: UnitOfWorkDep, submission: BacktestSubmissionDep
) -> Backtest:
    """Stop a queued or running backtest (it stores no result); 409 `backtest_finished` once
    it has ended."""
    return await submission.cancel(work, user_id=user.id, backtest_id=backtest_id)
