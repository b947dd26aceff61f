"""Backtests: upload bars, run a registered strategy class over them, read the results."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

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
from backend.core.monitoring.middleware import BodyTooLargeError
from backend.models.backtest import Backtest
from backend.models.enums import BacktestStatus
from backend.schemas.backtests import (
    BacktestAccepted,
    BacktestCreate,
    BacktestFromHistory,
    BacktestFromTicks,
    BacktestJSON,
    BacktestRead,
    BacktestSummary,
)
from backend.schemas.common import Page
from backend.services.backtest.bars import BarSeries, InvalidBarDataError, parse_csv_bars
from backend.services.backtest.history_feed import HistoryFeed, NoStoredBarsError
from backend.services.backtest.service import (
    BacktestNotFinishedError,
    BacktestService,
    NoStoredTicksError,
    stored_chart,
)
from backend.services.market.intervals import BarInterval

router = APIRouter(prefix=f"{API_PREFIX}/backtests", tags=["backtests"])
_JSON_BODY: TypeAdapter[BacktestFromHistory | BacktestFromTicks] = TypeAdapter(BacktestJSON)

_FIELDS = BacktestCreate.model_json_schema()["properties"]
_CREATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "class_name", "symbol"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "CSV: "
                                 "datetime,open,high,low,close,volume"},
                        "class_name": _FIELDS["class_name"],
                        "symbol": _FIELDS["symbol"],
                        "parameters": {"type": "string", "description": "JSON object"},
                        "settings": {"type": "string", "description": "JSON BacktestSettings"},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "oneOf": [component_ref(BacktestFromHistory), component_ref(BacktestFromTicks)],
                    "discriminator": {"propertyName": "source"},
                }
            },
        },
    }
}  # fmt: skip


async def get_backtest_service(container: ContainerDep) -> BacktestService:
    """Checked against the strategy registry and the listed contracts; rows carry this replica."""
    config = container.config
    return BacktestService(
        registry=container.strategies.registry,
        contracts=container.trading.market.get_contract,
        replica=config.replica_id,
        max_stored_trades=config.backtest.max_stored_trades,
        max_queued_per_user=config.backtest.max_queued_per_user,
        paper_commission_rate=config.vnpy.paper_commission_rate,
    )


ServiceDep = Annotated[BacktestService, Depends(get_backtest_service)]


def _validation_error(exc: ValidationError, prefix: tuple[str, ...]) -> RequestValidationError:
    errors = [{**error, "loc": (*prefix, *error["loc"])} for error in exc.errors()]
    return RequestValidationError(errors)


def _json_field(value: Any, name: str) -> Any:
    if value is None or value == "":
        return None
    try:
        return json.loads(str(value))
    except ValueError:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", name), "msg": "must be JSON"}]
        ) from None


async def _json_body(request: Request, limit: int) -> bytes:
    # This route's upload cap is far above MAX_BODY_BYTES; a JSON body keeps the general one.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(limit)
    return bytes(body)


async def _create_from_json(
    request: Request, user_id: int, session: SessionDep, backtests: BacktestService,
    container: ContainerDep,
) -> BacktestAccepted:  # fmt: skip
    body = await _json_body(request, container.config.max_body_bytes)
    try:
        create = _JSON_BODY.validate_json(body)
    except ValidationError as exc:
        raise _validation_error(exc, ("body",)) from None
    if isinstance(create, BacktestFromTicks):
        raise NoStoredTicksError(
            'the platform replays bars, not ticks: send {"source": "history", ...}'
        )
    backtests.registry.validate(create.class_name, create.parameters)
    await backtests.ensure_capacity(session, user_id=user_id)
    # SQLite serializes transactions: the one that authenticated ends before bars are counted.
    await session.commit()
    reader = container.history.reader
    interval = BarInterval(create.interval)
    count = await reader.count(create.symbol, interval, create.start, create.end)
    if count == 0:
        raise NoStoredBarsError(
            f"no stored {interval.value} bars of {create.symbol} in [{create.start.isoformat()}, "
            f"{create.end.isoformat()})"
        )
    max_bars = container.config.backtest.max_bars
    if count > max_bars:
        raise InvalidBarDataError(f"{count} bars in the range: more than {max_bars}")
    feed = HistoryFeed(
        reader, asyncio.get_running_loop(), symbol=create.symbol, interval=interval,
        start=create.start, end=create.end,
    )  # fmt: skip
    bars = BarSeries.build(create.symbol, [], ([], [], [], []), [])
    backtest, job = await backtests.create(
        session, user_id=user_id, request=create, bars=bars, feed=feed, bar_count=count
    )
    await session.commit()
    container.backtests.submit(job)
    return BacktestAccepted(id=backtest.id, status=backtest.status)


def _create_request(form: Any) -> BacktestCreate:
    fields = {
        "class_name": form.get("class_name"),
        "symbol": form.get("symbol"),
        "parameters": _json_field(form.get("parameters"), "parameters"),
        "settings": _json_field(form.get("settings"), "settings"),
    }
    try:
        return BacktestCreate.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise _validation_error(exc, ("body",)) from None


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BacktestAccepted,
    responses=error_responses(400, 401, 403, 413, 422, 429),
    openapi_extra=_CREATE_BODY,
)
async def create_backtest(
    request: Request,
    user: TraderUser,
    session: SessionDep,
    backtests: ServiceDep,
    container: ContainerDep,
) -> BacktestAccepted:
    """202 and the id to poll; 422 for a bad CSV (naming the line), class or parameters;
    429 `too_many_queued_backtests` when the caller has BACKTEST__MAX_QUEUED_PER_USER."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return await _create_from_json(request, user.id, session, backtests, container)
    if not content_type.startswith("multipart/form-data"):
        raise DomainValidationError("send multipart/form-data with a CSV file, or JSON")
    # Refused before the upload is read; checked again, holding the user's row, at the insert.
    await backtests.ensure_capacity(session, user_id=user.id)
    # No transaction held while the CSV is read and parsed (on SQLite it would hold the
    # database's write lock): the session begins a new one for the insert.
    await session.commit()
    # The upload is spooled to a temporary file (on disk past 1 MiB) and parsed from there.
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            error = {"type": "missing", "loc": ("body", "file"), "msg": "a CSV file is required"}
            raise RequestValidationError([error])
        create = _create_request(form)
        backtests.registry.validate(create.class_name, create.parameters)
        max_bars = container.config.backtest.max_bars
        bars = await asyncio.to_thread(
            parse_csv_bars, upload.file, symbol=create.symbol, max_bars=max_bars
        )
    backtest, job = await backtests.create(session, user_id=user.id, request=create, bars=bars)
    # The runner records progress in its own sessions: the row must exist for them first.
    await session.commit()
    container.backtests.submit(job)
    return BacktestAccepted(id=backtest.id, status=backtest.status)


@router.get("", response_model=Page[BacktestSummary], responses=error_responses(401, 422))
async def list_backtests(
    user: CurrentUser, session: SessionDep, page: PageParamsDep, backtests: ServiceDep
) -> Page[BacktestSummary]:
    """The caller's backtests, newest first."""
    items, total = await backtests.list(
        session, user_id=user.id, limit=page.limit, offset=page.offset
    )
    return Page[BacktestSummary](
        items=[BacktestSummary.model_validate(item) for item in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{backtest_id}", response_model=BacktestRead, responses=error_responses(401, 404, 422))
async def get_backtest(
    backtest_id: IntegerId, user: CurrentUser, session: SessionDep, backtests: ServiceDep
) -> Backtest:
    """Status; once finished, statistics, trades and the daily table."""
    return await backtests.get(session, user_id=user.id, backtest_id=backtest_id)


# A finished backtest's chart never changes; private: it is the owner's alone.
CHART_CACHE_CONTROL = "private, max-age=86400"


def _etag(png: bytes) -> str:
    return f'"{hashlib.sha256(png).hexdigest()[:32]}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


@router.get(
    "/{backtest_id}/equity.png",
    response_class=Response,
    responses={
        200: {
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            "description": "Balance and drawdown chart",
            "headers": {
                "ETag": {"schema": {"type": "string"}},
                "Cache-Control": {"schema": {"type": "string"}},
            },
        },
        304: {"description": "Not modified: the client's copy (If-None-Match) is current"},
        **error_responses(401, 404, 409, 422),
    },
)
async def get_equity_chart(
    request: Request,
    backtest_id: IntegerId,
    user: CurrentUser,
    session: SessionDep,
    backtests: ServiceDep,
) -> Response:
    """The balance and drawdown chart, drawn once when the backtest finished and kept; 304 for
    a matching If-None-Match; 409 `backtest_not_finished` until it has finished."""
    backtest = await backtests.get(session, user_id=user.id, backtest_id=backtest_id)
    if backtest.status is not BacktestStatus.FINISHED or backtest.daily is None:
        raise BacktestNotFinishedError(f"backtest {backtest_id} is {backtest.status.value}")
    png = await stored_chart(session, backtest)
    headers = {"ETag": _etag(png), "Cache-Control": CHART_CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=png, media_type="image/png", headers=headers)
