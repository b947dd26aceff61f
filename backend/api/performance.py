"""Performance of the caller's paper account: PnL by symbol or strategy, days, summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep
from backend.api.deps.identity import CurrentUser
from backend.api.deps.services import AccountDefaultsDep, MarketEngineDep
from backend.api.responses import error_responses
from backend.schemas.common import IsoDate, TimeRange
from backend.schemas.performance import (
    AccountHistoryRead,
    AccountSummaryRead,
    PnlGrouping,
    PnlRead,
)
from backend.services.orders import performance_views

router = APIRouter(prefix=API_PREFIX, tags=["performance"], route_class=ApiRoute)

DayQuery = Annotated[IsoDate | None, Query(ge=date(1970, 1, 1), lt=date(2200, 1, 1))]


@router.get("/pnl", response_model=list[PnlRead], responses=error_responses(401, 422))
async def get_pnl(
    user: CurrentUser,
    session: SessionDep,
    market: MarketEngineDep,
    accounts: AccountDefaultsDep,
    by: Annotated[PnlGrouping, Query(description="`symbol` or `strategy`")] = PnlGrouping.SYMBOL,
) -> list[PnlRead]:
    """Realized and unrealized PnL per contract, or per strategy and contract."""
    return await performance_views.pnl(session, user.id, market, accounts, by)


@router.get(
    "/account/history", response_model=AccountHistoryRead, responses=error_responses(401, 422)
)
async def get_account_history(
    user: CurrentUser,
    session: SessionDep,
    accounts: AccountDefaultsDep,
    start: Annotated[DayQuery, Query(description="first UTC date (inclusive)")] = None,
    end: Annotated[DayQuery, Query(description="last UTC date (exclusive)")] = None,
) -> AccountHistoryRead:
    """Each UTC day with fills: realized PnL, commission, fills and the closing balance."""
    if start is not None and end is not None and start > end:
        raise RequestValidationError(
            [{"type": "range", "loc": ("query", "start"), "msg": "start must not be after end"}]
        )
    period = TimeRange(_midnight(start), _midnight(end))
    return await performance_views.history(session, user.id, accounts, period)


@router.get("/account/summary", response_model=AccountSummaryRead, responses=error_responses(401))
async def get_account_summary(
    user: CurrentUser, session: SessionDep, market: MarketEngineDep, accounts: AccountDefaultsDep
) -> AccountSummaryRead:
    """Fills, round trips, win rate, profit factor, best and worst, drawdown, PnL."""
    return await performance_views.summary(session, user.id, market, accounts)


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), UTC)
