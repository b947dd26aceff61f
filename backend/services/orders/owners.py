"""The owners of a batch of orders, confirmed in the booking's transaction: active traders.

The token check in front of the order endpoint may answer from a cache for a few seconds
(services/auth/access.py); an order must not be booked for a user already deactivated or
made a viewer. On PostgreSQL the users' rows are read FOR SHARE, so an administrator's
change of them waits for the booking to commit (and its open orders to be seen by the
cancellation that follows the change), and a booking that starts after the change reads it.
SQLite takes one writer at a time, which orders them the same way. The same statement
claims the Idempotency-Keys of the owners who may trade (idempotency.py answers the others),
then locks their bookings and reads their books (repository/books.py): one round trip.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import AuthenticationError, ReadOnlyError, RedFireError
from backend.models.enums import UserRole
from backend.services.orders.idempotency import KEY_LIFETIME, KeyClaim
from backend.services.orders.repository import KeyIdent
from backend.services.orders.repository.books import BookingReads, claim_and_read_for_booking
from backend.services.orders.repository.keys import OwnerClaims

TRADING_ROLES = frozenset({UserRole.TRADER, UserRole.ADMIN})
_TRADING_ROLE_NAMES = sorted(role.value for role in TRADING_ROLES)


async def confirm_owners(
    session: AsyncSession,
    user_ids: set[int],
    claims: list[KeyClaim],
    now: datetime,
    initial_balance: Decimal,
) -> tuple[dict[int, RedFireError], set[KeyIdent], BookingReads]:
    """Why each owner that may not trade is refused (401 gone or inactive, 403 viewer),
    which of `claims` (distinct, in key order) now hold their keys (those of the other owners
    are inserted, the first writer of each winning), and what the booking reads of the owners
    (repository/books.py): on PostgreSQL in one statement."""
    asked = OwnerClaims(
        user_ids,
        _TRADING_ROLE_NAMES,
        [(claim.user_id, claim.key, claim.fingerprint) for claim in claims],
        now,
        now + KEY_LIFETIME,
    )
    owners, won, reads = await claim_and_read_for_booking(session, asked, initial_balance)
    return _refusals(owners, user_ids), won, reads


def _refusals(owners: list[dict[str, Any]], user_ids: set[int]) -> dict[int, RedFireError]:
    by_id = {row["id"]: row for row in owners}
    refusals: dict[int, RedFireError] = {}
    for user_id in user_ids:
        owner = by_id.get(user_id)
        if owner is None or not owner["is_active"]:
            refusals[user_id] = AuthenticationError(
                "the token is no longer valid", code="token_revoked"
            )
        elif UserRole(owner["role"]) not in TRADING_ROLES:
            refusals[user_id] = ReadOnlyError()
    return refusals
