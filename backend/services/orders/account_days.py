"""The account's day book: each fill adds to the row of its UTC trade date (account_days)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models.account import AccountDay
from backend.schemas.common import TimeRange

DayKey = tuple[int, date]


def trade_day(trade_time: datetime) -> date:
    """The UTC date a fill counts on."""
    return trade_time.astimezone(UTC).date()


async def book_fill_day(
    session: AsyncSession,
    days: dict[DayKey, AccountDay],
    *,
    user_id: int,
    trade_time: datetime,
    realized_pnl: Decimal,
    commission: Decimal,
    balance: Decimal,
) -> None:
    """Add one fill to its day; the day's balance becomes the account's after it.

    The caller holds the user's account row lock, so no other booking writes the same rows.
    """
    key = (user_id, trade_day(trade_time))
    row = days.get(key)
    if row is None:
        row = await session.get(AccountDay, key)
        if row is None:
            row = AccountDay(
                user_id=user_id,
                day=key[1],
                realized_pnl=Decimal(0),
                commission=Decimal(0),
                trade_count=0,
                balance=balance,
            )
            session.add(row)
        days[key] = row
    row.realized_pnl += realized_pnl
    row.commission += commission
    row.trade_count += 1
    row.balance = balance


async def list_days(session: AsyncSession, user_id: int, period: TimeRange) -> list[AccountDay]:
    """The user's day rows with dates in [start, end) of `period`, oldest first."""
    statement = select(AccountDay).where(AccountDay.user_id == user_id)
    if period.start is not None:
        statement = statement.where(AccountDay.day >= trade_day(period.start))
    if period.end is not None:
        statement = statement.where(AccountDay.day < trade_day(period.end))
    return list((await session.scalars(statement.order_by(AccountDay.day))).all())
