"""The performance answers: PnL by symbol or strategy, the day book, the summary."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models.account import Account
from backend.schemas.common import TimeRange
from backend.schemas.performance import (
    AccountDayRead,
    AccountHistoryRead,
    AccountSummaryRead,
    PnlGrouping,
    PnlRead,
)
from backend.services.orders.account_days import list_days
from backend.services.orders.fills import AccountDefaults
from backend.services.orders.performance import Replay, load_fills
from backend.services.orders.ports import MarketAccess

ZERO = Decimal(0)


async def _account(
    session: AsyncSession, user_id: int, defaults: AccountDefaults
) -> tuple[str, Decimal]:
    account = await session.scalar(select(Account).where(Account.user_id == user_id))
    if account is None:
        return defaults.currency, defaults.initial_balance
    return account.currency, account.initial_balance


async def pnl(
    session: AsyncSession,
    user_id: int,
    market: MarketAccess,
    accounts: AccountDefaults,
    grouping: PnlGrouping,
) -> list[PnlRead]:
    """One row per contract, or per strategy and contract, sorted by strategy then symbol."""
    replay = Replay(market, accounts)
    books = replay.by_key(
        await load_fills(session, user_id), per_strategy=grouping is PnlGrouping.STRATEGY
    )
    rows = []
    for (strategy_id, symbol), book in books.items():
        realized = book.state.realized_pnl
        unrealized = replay.mark(symbol, book.state)
        rows.append(
            PnlRead(
                symbol=symbol,
                strategy_id=strategy_id,
                quantity=book.state.quantity,
                realized_pnl=realized,
                unrealized_pnl=unrealized,
                commission=book.commission,
                net_pnl=realized + unrealized - book.commission,
                trade_count=book.trade_count,
            )
        )
    return sorted(
        rows, key=lambda row: (row.strategy_id is not None, row.strategy_id or 0, row.symbol)
    )


async def history(
    session: AsyncSession, user_id: int, defaults: AccountDefaults, period: TimeRange
) -> AccountHistoryRead:
    """The kept day rows of the account in `period` (dates), oldest first."""
    currency, initial = await _account(session, user_id, defaults)
    days = [
        AccountDayRead(
            date=row.day,
            realized_pnl=row.realized_pnl,
            commission=row.commission,
            net_pnl=row.realized_pnl - row.commission,
            trade_count=row.trade_count,
            balance=row.balance,
        )
        for row in await list_days(session, user_id, period)
    ]
    return AccountHistoryRead(currency=currency, initial_balance=initial, days=days)


async def summary(
    session: AsyncSession, user_id: int, market: MarketAccess, defaults: AccountDefaults
) -> AccountSummaryRead:
    """Counts, round trips, best and worst, profit factor and drawdown of the account."""
    currency, initial = await _account(session, user_id, defaults)
    fills = await load_fills(session, user_id)
    replay = Replay(market, defaults)
    trips, curve = replay.round_trips_and_curve(fills, initial)
    books = replay.by_key(fills, per_strategy=False)
    realized = sum((book.state.realized_pnl for book in books.values()), ZERO)
    unrealized = sum((replay.mark(symbol, book.state) for (_, symbol), book in books.items()), ZERO)
    commission = sum((replay.commission(fill) for fill in fills), ZERO)
    wins = [net for net in trips.closed if net > 0]
    losses = [net for net in trips.closed if net < 0]
    gross_loss = -sum(losses, ZERO)
    return AccountSummaryRead(
        currency=currency,
        trade_count=len(fills),
        first_trade_time=fills[0].trade_time if fills else None,
        last_trade_time=fills[-1].trade_time if fills else None,
        round_trips=len(trips.closed),
        winning_round_trips=len(wins),
        losing_round_trips=len(losses),
        win_rate=Decimal(len(wins)) / len(trips.closed) if trips.closed else None,
        profit_factor=sum(wins, ZERO) / gross_loss if gross_loss else None,
        best_round_trip=max(trips.closed) if trips.closed else None,
        worst_round_trip=min(trips.closed) if trips.closed else None,
        realized_pnl=realized,
        unrealized_pnl=unrealized,
        commission=commission,
        net_pnl=realized + unrealized - commission,
        balance=initial + realized - commission,
        max_drawdown=curve.max_drawdown,
        max_drawdown_pct=curve.max_drawdown_pct,
    )
