"""Trades, positions and the paper account of the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep
from backend.api.deps.identity import CurrentUser
from backend.api.deps.parameters import PageParamsDep
from backend.api.deps.services import AccountDefaultsDep, MarketEngineDep
from backend.api.deps.time_range import TimeRangeDep
from backend.api.responses import error_responses
from backend.schemas.common import BIGINT_MAX, NO_CONTROL_CHARACTERS, Page
from backend.schemas.orders import AccountRead, PositionRead, TradeRead
from backend.services.orders import queries

router = APIRouter(prefix=API_PREFIX, tags=["trades"], route_class=ApiRoute)


@router.get("/trades", response_model=Page[TradeRead], responses=error_responses(401, 422))
async def list_trades(
    user: CurrentUser,
    session: SessionDep,
    page: PageParamsDep,
    traded: TimeRangeDep,
    symbol: Annotated[str | None, Query(max_length=64, pattern=NO_CONTROL_CHARACTERS)] = None,
    order_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
) -> Page[TradeRead]:
    """The caller's fills, newest first; `start` / `end` bound their trade time."""
    return await queries.list_trades(
        session,
        user.id,
        symbol=symbol,
        order_id=order_id,
        limit=page.limit,
        offset=page.offset,
        traded=traded,
    )


@router.get("/positions", response_model=list[PositionRead], responses=error_responses(401))
async def list_positions(
    user: CurrentUser, session: SessionDep, market: MarketEngineDep, accounts: AccountDefaultsDep
) -> list[PositionRead]:
    """Net positions (short < 0), marked to the last tick; PnL in the account's currency."""
    return await queries.list_positions(session, user.id, market, accounts)


@router.get("/account", response_model=AccountRead, responses=error_responses(401))
async def get_account(
    user: CurrentUser, session: SessionDep, market: MarketEngineDep, accounts: AccountDefaultsDep
) -> AccountRead:
    """The paper account: balance, frozen for open orders, available, PnL."""
    return await queries.account_summary(session, user.id, market, accounts)
