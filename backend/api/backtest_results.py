"""A user's backtests: the list, one backtest's results and its equity chart."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request, Response, status

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep
from backend.api.deps.identity import CurrentUser
from backend.api.deps.parameters import IntegerId, PageParamsDep
from backend.api.deps.platform import BacktestServiceDep
from backend.api.responses import error_responses
from backend.models.backtest import Backtest
from backend.models.enums import BacktestStatus
from backend.schemas.backtests import BacktestRead, BacktestSummary
from backend.schemas.common import Page
from backend.services.backtest.service import BacktestNotFinishedError, stored_chart

router = APIRouter(prefix=f"{API_PREFIX}/backtests", tags=["backtests"], route_class=ApiRoute)


@router.get("", response_model=Page[BacktestSummary], responses=error_responses(401, 422))
async def list_backtests(
    user: CurrentUser, session: SessionDep, page: PageParamsDep, backtests: BacktestServiceDep
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
    backtest_id: IntegerId, user: CurrentUser, session: SessionDep, backtests: BacktestServiceDep
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
    backtests: BacktestServiceDep,
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
