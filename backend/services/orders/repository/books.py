"""What booking reads of the database: each user's count row, books and the current limits.

The order repository's reads for booking and the account summary (the rows of accounts,
positions and open-order exposure the books are made of), for both databases.

On PostgreSQL one statement locks the users' count rows (the per-user lock of
counts.open_order_counts) and reads, with them, each user's account, positions and
open-order exposure, and the limits and kill switch as committed: the booking's only read
(CLAIM_AND_BOOK_OWNERS: with the owner check and the key claims). A committed halt is
therefore seen by the next booking on every replica, whatever the cache holds.

Everything but the locked row is read at the statement's snapshot, taken before the lock
was granted. Each booking raises its row's `bookings`; when the value the lock returns is not
the snapshot's plus one, another booking of that user committed in between, and the
statement runs again, now under the lock (it does not wait again). A fill committing in
between is no such concern: it moves an order's hold into a position's margin at about the
same amount, either side of it is sound.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CTE, Integer, Select, Table, Text, func, literal, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnClause

from backend.core.database.arrays import arrays, takes_arrays, unnest
from backend.core.database.dialect import on_postgresql
from backend.core.database.driver import DriverStatement
from backend.models.account import Account, Position
from backend.models.control import RiskSettings
from backend.models.enums import OrderSide
from backend.models.order import OpenOrderExposure
from backend.services.orders.buying_power import Exposure, Holdings
from backend.services.orders.positions import ZERO, PositionState
from backend.services.orders.repository.array_statements import OWNERS_CLAIMS, OWNERS_FOR_SHARE
from backend.services.orders.repository.counts import open_order_counts
from backend.services.orders.repository.keys import (
    OwnerClaims,
    claimed_arrays,
    lock_owners_and_insert_keys,
)
from backend.services.orders.repository.order_reads import open_order_holds
from backend.services.orders.repository.tables import OPEN_ORDER_COUNTS, KeyIdent
from backend.services.orders.risk import (
    LIMIT_FIELDS,
    SETTINGS_ID,
    RiskLimits,
)

ACCOUNTS = cast(Table, Account.__table__)
POSITIONS = cast(Table, Position.__table__)
EXPOSURE = cast(Table, OpenOrderExposure.__table__)
RISK_SETTINGS = cast(Table, RiskSettings.__table__)
RISK_COLUMNS = (*LIMIT_FIELDS, "trading_halted", "halted_reason")
_ZERO: ColumnClause[Any] = literal_column("0")
_ONE: ColumnClause[Any] = literal_column("1")

_SEEN = OPEN_ORDER_COUNTS.alias("seen")


def _book_reads(locked: CTE, *columns: Any) -> Select[Any]:
    """Each user `locked` locked: open orders, whether its `bookings` is the snapshot's plus
    one (`current`), account, positions and open-order exposure, and the limits."""
    positions = (
        select(
            func.json_agg(
                func.json_build_array(POSITIONS.c.symbol, POSITIONS.c.quantity, POSITIONS.c.cost)
            ).cast(Text)
        )
        .where(POSITIONS.c.user_id == locked.c.user_id, POSITIONS.c.quantity != _ZERO)
        .scalar_subquery()
    )
    exposure = (
        select(
            func.json_agg(
                func.json_build_array(
                    EXPOSURE.c.symbol, EXPOSURE.c.side, EXPOSURE.c.quantity, EXPOSURE.c.notional
                )
            ).cast(Text)
        )
        .where(EXPOSURE.c.user_id == locked.c.user_id, EXPOSURE.c.quantity != _ZERO)
        .scalar_subquery()
    )
    return select(
        locked.c.user_id,
        locked.c.open_orders,
        (locked.c.bookings == func.coalesce(_SEEN.c.bookings, _ZERO) + _ONE).label("current"),
        ACCOUNTS.c.initial_balance,
        ACCOUNTS.c.realized_pnl,
        ACCOUNTS.c.commission,
        positions.label("positions"),
        exposure.label("exposure"),
        *(RISK_SETTINGS.c[name].label(f"risk_{name}") for name in RISK_COLUMNS),
        *columns,
    ).select_from(
        locked.outerjoin(_SEEN, _SEEN.c.user_id == locked.c.user_id)
        .outerjoin(ACCOUNTS, ACCOUNTS.c.user_id == locked.c.user_id)
        .outerjoin(RISK_SETTINGS, RISK_SETTINGS.c.id == literal_column(str(SETTINGS_ID)))
    )


def _locking(source: Select[Any], name: str) -> CTE:
    """Each user id of `source` gets its count row (created at 0), locked, `bookings` raised."""
    return (
        postgresql.insert(OPEN_ORDER_COUNTS)
        .from_select(["user_id", "open_orders", "bookings"], source)
        .on_conflict_do_update(
            index_elements=["user_id"], set_={"bookings": OPEN_ORDER_COUNTS.c.bookings + _ONE}
        )
        .returning(
            OPEN_ORDER_COUNTS.c.user_id,
            OPEN_ORDER_COUNTS.c.open_orders,
            OPEN_ORDER_COUNTS.c.bookings,
        )
        .cte(name)
    )


_BOOKED = unnest("booked", user_id=Integer())
_LOCKED = _locking(
    select(_BOOKED.c.user_id, literal(0), literal(1)).order_by(_BOOKED.c.user_id), "locked"
)
# Locks the users' count rows (created at 0) in user id order and reads their books and the
# limits in one round trip; `current` is false where another booking committed meanwhile.
BOOK_USERS = DriverStatement(_book_reads(_LOCKED))

# The owners read FOR SHARE (owners.py) and the keys of those who may trade claimed
# (array_statements.OWNERS_CLAIMS), then (the claims counted first, so a claim waiting on
# another booking's uncommitted key holds no count row yet) each owner's count row locked
# and books read as BOOK_USERS reads them: the booking's checks and reads in one round trip.
# A user with no row is missing from the result; `won` lists the keys of the user claimed.
_CLAIMS_DONE = select(func.count()).select_from(OWNERS_CLAIMS).scalar_subquery()
_OWNERS_LOCKED = _locking(
    select(OWNERS_FOR_SHARE.c.id, literal(0), literal(1))
    .where(_CLAIMS_DONE >= 0)
    .order_by(OWNERS_FOR_SHARE.c.id),
    "locked",
)
_WON = (
    select(func.array_agg(OWNERS_CLAIMS.c.key))
    .where(OWNERS_CLAIMS.c.user_id == _OWNERS_LOCKED.c.user_id)
    .scalar_subquery()
)
CLAIM_AND_BOOK_OWNERS = DriverStatement(
    _book_reads(
        _OWNERS_LOCKED,
        OWNERS_FOR_SHARE.c.is_active,
        OWNERS_FOR_SHARE.c.role,
        _WON.label("won"),
    ).join(OWNERS_FOR_SHARE, OWNERS_FOR_SHARE.c.id == _OWNERS_LOCKED.c.user_id)
)
BOOK_ATTEMPTS = 2  # the second runs under the locks the first took: nothing commits between


@dataclass(slots=True)
class BookingReads:
    """What a booking reads: open orders and books per user, and the committed limits."""

    open_orders: dict[int, int]
    holdings: dict[int, Holdings]
    limits: RiskLimits | None  # None until the limits row is first created


async def claim_and_read_for_booking(
    session: AsyncSession, asked: OwnerClaims, initial_balance: Decimal
) -> tuple[list[dict[str, Any]], set[KeyIdent], BookingReads]:
    """The owners' rows (id, is_active, role; read FOR SHARE on PostgreSQL), the keys of
    the claims inserted for those active in one of the trading roles, and read_for_booking
    of the owners: on PostgreSQL in one statement."""
    if not takes_arrays(session):
        owners, won = await lock_owners_and_insert_keys(session, asked)
        return owners, won, await read_for_booking(session, asked.user_ids, initial_balance)
    parameters = {
        "user_ids": sorted(asked.user_ids),
        "trading_roles": asked.trading_roles,
        **claimed_arrays(asked.claims),
        "now": asked.now,
        "expires_at": asked.expires_at,
    }
    rows = await CLAIM_AND_BOOK_OWNERS.fetch(session, parameters)
    owners = [{"id": r["user_id"], "is_active": r["is_active"], "role": r["role"]} for r in rows]
    won = {(row["user_id"], key) for row in rows for key in row["won"] or ()}
    if all(row["current"] for row in rows):
        reads = _reads_of_rows(rows, initial_balance)
    else:  # another booking committed meanwhile: again, under the locks this one took
        reads = await read_for_booking(session, {o["id"] for o in owners}, initial_balance)
    return owners, won, reads


async def read_for_booking(
    session: AsyncSession, user_ids: set[int], initial_balance: Decimal
) -> BookingReads:
    """Lock the users' bookings (PostgreSQL) and read what risk needs, as last committed."""
    if not takes_arrays(session):
        return await _read_for_booking_sqlite(session, user_ids, initial_balance)
    parameters = arrays("booked", user_id=list(user_ids))
    for _ in range(BOOK_ATTEMPTS):
        rows = await BOOK_USERS.fetch(session, parameters)
        if all(row["current"] for row in rows):
            break
    return _reads_of_rows(rows, initial_balance)


def _reads_of_rows(rows: list[dict[str, Any]], initial_balance: Decimal) -> BookingReads:
    holdings = {row["user_id"]: _holdings_of_row(row, initial_balance) for row in rows}
    open_orders = {row["user_id"]: int(row["open_orders"]) for row in rows}
    limits = None
    if rows and rows[0]["risk_trading_halted"] is not None:
        limits = RiskLimits.from_json({name: rows[0][f"risk_{name}"] for name in RISK_COLUMNS})
    return BookingReads(open_orders, holdings, limits)


def _holdings_of_row(row: Mapping[str, Any], initial_balance: Decimal) -> Holdings:
    balance = initial_balance
    if row["initial_balance"] is not None:
        balance = row["initial_balance"] + row["realized_pnl"] - row["commission"]
    holdings = Holdings(balance)
    for symbol, quantity, cost in _json_rows(row["positions"]):
        holdings.positions[symbol] = PositionState(Decimal(quantity), Decimal(cost))
    for symbol, side, quantity, notional in _json_rows(row["exposure"]):
        holdings.exposure[(symbol, OrderSide(side))] = Exposure(
            Decimal(quantity), Decimal(notional)
        )
    return holdings


def _json_rows(text: str | None) -> list[list[Any]]:
    """A json_agg of arrays, as text, its numbers read exactly."""
    if text is None:
        return []
    rows: list[list[Any]] = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    return rows


async def _read_for_booking_sqlite(
    session: AsyncSession, user_ids: set[int], initial_balance: Decimal
) -> BookingReads:
    """SQLite: one writer at a time already; read the rows one statement each."""
    open_orders = await open_order_counts(session, user_ids)
    settings = await session.get(RiskSettings, SETTINGS_ID)
    limits = RiskLimits.from_row(settings) if settings is not None else None
    holdings = await load_holdings(session, user_ids, initial_balance)
    return BookingReads(open_orders, holdings, limits)


async def load_holdings(
    session: AsyncSession, user_ids: Iterable[int], initial_balance: Decimal
) -> dict[int, Holdings]:
    """The users' books as committed (no lock): accounts, positions and open-order exposure."""
    users = set(user_ids)
    holdings = {user_id: Holdings(initial_balance) for user_id in users}
    accounts = await session.execute(
        select(
            Account.user_id, Account.initial_balance, Account.realized_pnl, Account.commission
        ).where(Account.user_id.in_(users))
    )
    for user_id, initial, realized, commission in accounts:
        holdings[user_id].balance = initial + realized - commission
    positions = await session.execute(
        select(Position.user_id, Position.symbol, Position.quantity, Position.cost).where(
            Position.user_id.in_(users)
        )
    )
    for user_id, symbol, quantity, cost in positions:
        if quantity != 0:
            holdings[user_id].positions[symbol] = PositionState(quantity, cost)
    for (user_id, symbol, side), exposure in (await _exposure(session, users)).items():
        holdings[user_id].exposure[(symbol, side)] = exposure
    return holdings


async def _exposure(
    session: AsyncSession, users: set[int]
) -> dict[tuple[int, str, OrderSide], Exposure]:
    """Open orders per user, contract and side: the triggers' rows, or summed (SQLite)."""
    if on_postgresql(session):
        rows = await session.execute(
            select(
                OpenOrderExposure.user_id,
                OpenOrderExposure.symbol,
                OpenOrderExposure.side,
                OpenOrderExposure.quantity,
                OpenOrderExposure.notional,
            ).where(OpenOrderExposure.user_id.in_(users), OpenOrderExposure.quantity != 0)
        )
        return {(user, symbol, side): Exposure(q, n) for user, symbol, side, q, n in rows}
    orders = await open_order_holds(session, users)
    summed: dict[tuple[int, str, OrderSide], Exposure] = {}
    for user_id, symbol, side, quantity, filled, hold_price, price in orders:
        key = (user_id, symbol, side)
        held_at = hold_price if hold_price is not None else price or ZERO
        summed[key] = summed.get(key, Exposure()).add(quantity - filled, held_at)
    return summed
