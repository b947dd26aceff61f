"""Read side: a user's orders, trades, positions and paper account."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models.account import Account, Position
from backend.models.enums import OrderSide, OrderStatus
from backend.models.order import Trade
from backend.schemas.common import Page, TimeRange
from backend.schemas.orders import AccountRead, OrderRead, PositionRead, TradeRead
from backend.services.orders import repository
from backend.services.orders.buying_power import BuyingPower
from backend.services.orders.fills import AccountDefaults
from backend.services.orders.ports import MarketAccess
from backend.services.orders.positions import PositionState, unrealized_pnl
from backend.services.orders.repository.books import load_holdings
from backend.shared.utils.currency import to_money_scale


async def _page(
    session: AsyncSession, statement: Select[Any], limit: int, offset: int
) -> tuple[list[Any], int]:
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = (await session.scalars(statement.limit(limit).offset(offset))).all()
    return list(rows), int(total or 0)


async def list_orders(
    session: AsyncSession,
    user_id: int,
    *,
    statuses: Sequence[OrderStatus] | None,
    symbol: str | None,
    side: OrderSide | None,
    limit: int,
    offset: int,
    created: TimeRange = TimeRange(),
) -> Page[OrderRead]:
    """The user's orders (in any of `statuses`, created in `created`), newest first."""
    rows, total = await repository.list_orders(
        session,
        user_id,
        statuses=statuses,
        symbol=symbol,
        side=side,
        limit=limit,
        offset=offset,
        created=created,
    )
    items = [OrderRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


async def list_trades(
    session: AsyncSession,
    user_id: int,
    *,
    symbol: str | None,
    order_id: int | None,
    limit: int,
    offset: int,
    traded: TimeRange = TimeRange(),
) -> Page[TradeRead]:
    """The user's fills (traded in `traded`), newest first."""
    statement = select(Trade).where(Trade.user_id == user_id)
    if traded.start is not None:
        statement = statement.where(Trade.trade_time >= traded.start)
    if traded.end is not None:
        statement = statement.where(Trade.trade_time < traded.end)
    if symbol is not None:
        statement = statement.where(Trade.symbol == symbol)
    if order_id is not None:
        statement = statement.where(Trade.order_id == order_id)
    rows, total = await _page(session, statement.order_by(Trade.id.desc()), limit, offset)
    items = [TradeRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


def _mark(position: Position, market: MarketAccess, accounts: AccountDefaults) -> Decimal:
    """Unrealized PnL at the stored scale, in the account's currency: the account's is the
    sum of the positions' shown."""
    contract = market.get_contract(position.symbol)
    tick = market.get_tick(position.symbol)
    rate = accounts.rate(position.symbol) or Decimal(0)
    size = (contract.size if contract is not None else Decimal(1)) * rate
    state = PositionState(position.quantity, position.cost, position.realized_pnl)
    return to_money_scale(unrealized_pnl(state, tick.last_price if tick else None, size))


async def list_positions(
    session: AsyncSession, user_id: int, market: MarketAccess, accounts: AccountDefaults
) -> list[PositionRead]:
    """Every contract the user has traded, marked to the last tick."""
    statement = select(Position).where(Position.user_id == user_id).order_by(Position.symbol)
    return [
        PositionRead(
            symbol=position.symbol,
            quantity=position.quantity,
            avg_price=position.avg_price,
            realized_pnl=position.realized_pnl,
            unrealized_pnl=_mark(position, market, accounts),
        )
        for position in (await session.scalars(statement)).all()
    ]


async def account_summary(
    session: AsyncSession, user_id: int, market: MarketAccess, defaults: AccountDefaults
) -> AccountRead:
    """Balance = initial + realized - commission; available = balance + unrealized - margin -
    frozen (buying_power.py), the amounts the next order's buying power is checked against.

    Every term has the 8 places of a stored amount, so the sums are exact as shown.
    """
    account = await session.scalar(select(Account).where(Account.user_id == user_id))
    realized = account.realized_pnl if account else Decimal(0)
    [holdings] = (await load_holdings(session, [user_id], defaults.initial_balance)).values()
    figures = BuyingPower(market, defaults).figures(holdings)
    return AccountRead(
        currency=account.currency if account else defaults.currency,
        balance=to_money_scale(holdings.balance),
        available=figures.available,
        frozen=figures.frozen,
        margin=figures.margin,
        realized_pnl=to_money_scale(realized),
        unrealized_pnl=figures.unrealized_pnl,
    )
