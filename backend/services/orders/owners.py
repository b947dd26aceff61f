"""The owners of a batch of orders, confirmed in the booking's transaction: active traders.

The token check in front of the order endpoint may answer from a cache for a few seconds
(services/auth/access.py); an order must not be booked for a user already deactivated or
made a viewer. On PostgreSQL the users' rows are read FOR SHARE, so an administrator's
change of them waits for the booking to commit (and its open orders to be seen by the
cancellation that follows the change), and a booking that starts after the change reads it.
SQLite takes one writer at a time, which orders them the same way.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Integer, Table, any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.dialect import on_postgresql
from backend.core.database.driver import DriverStatement
from backend.core.errors import AuthenticationError, ReadOnlyError, RedFireError
from backend.models.enums import UserRole
from backend.models.user import User

USERS = cast(Table, User.__table__)
TRADING_ROLES = frozenset({UserRole.TRADER, UserRole.ADMIN})
_OWNERS = select(USERS.c.id, USERS.c.is_active, USERS.c.role)
LOCK_OWNERS = DriverStatement(
    _OWNERS.where(
        USERS.c.id == any_(bindparam("user_ids", type_=postgresql.ARRAY(Integer())))
    ).with_for_update(read=True)
)


async def owner_refusals(session: AsyncSession, user_ids: set[int]) -> dict[int, RedFireError]:
    """Why each owner that may not trade is refused (401 gone or inactive, 403 viewer)."""
    rows: list[dict[str, Any]]
    if on_postgresql(session):
        rows = await LOCK_OWNERS.fetch(session, {"user_ids": sorted(user_ids)})
    else:
        result = await session.execute(_OWNERS.where(USERS.c.id.in_(user_ids)))
        rows = [dict(row._mapping) for row in result]
    owners = {row["id"]: row for row in rows}
    refusals: dict[int, RedFireError] = {}
    for user_id in user_ids:
        owner = owners.get(user_id)
        if owner is None or not owner["is_active"]:
            refusals[user_id] = AuthenticationError(
                "the token is no longer valid", code="token_revoked"
            )
        elif UserRole(owner["role"]) not in TRADING_ROLES:
            refusals[user_id] = ReadOnlyError()
    return refusals
