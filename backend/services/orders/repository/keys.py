"""Idempotency-Key statements, for both databases (what they mean: idempotency.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.arrays import arrays, takes_arrays
from backend.models.control import IdempotencyKey
from backend.schemas.orders import OrderRead
from backend.services.orders.repository import array_statements
from backend.services.orders.repository.array_statements import USERS
from backend.services.orders.repository.tables import KEYS, KeyIdent

# SQLite's claim, one row per key (PostgreSQL's takes arrays: array_statements.CLAIM_KEYS).
SQLITE_CLAIM_KEYS = (
    sqlite.insert(KEYS)
    .on_conflict_do_nothing(index_elements=["user_id", "key"])
    .returning(KEYS.c.user_id, KEYS.c.key)
)
# One executemany for every settled order, however many a crashed replica left.
ANSWER_ABANDONED = (
    update(KEYS)
    .where(KEYS.c.order_id == bindparam("k_order_id"), KEYS.c.response_status.is_(None))
    .values(response_status=201, response_body=bindparam("k_body"))
)


@dataclass(frozen=True, slots=True)
class OwnerClaims:
    """What a booking asks of its orders' owners: their ids, the roles that may trade, and
    the (user, key, fingerprint) claims (distinct, in key order) to insert for those who may,
    stored at `now` and kept until `expires_at`."""

    user_ids: set[int]
    trading_roles: list[str]
    claims: list[tuple[int, str, str]]
    now: datetime
    expires_at: datetime


async def lock_owners_and_insert_keys(
    session: AsyncSession, asked: OwnerClaims
) -> tuple[list[dict[str, Any]], set[KeyIdent]]:
    """SQLite: the users' rows (id, is_active, role), and insert_keys of the claims of those
    active in one of the trading roles only. PostgreSQL does this in the booking's one
    statement (books.CLAIM_AND_BOOK_OWNERS)."""
    statement = select(USERS.c.id, USERS.c.is_active, USERS.c.role).where(
        USERS.c.id.in_(asked.user_ids)
    )
    owners = [dict(row._mapping) for row in await session.execute(statement)]
    may_trade = {
        row["id"] for row in owners if row["is_active"] and str(row["role"]) in asked.trading_roles
    }
    kept = [claim for claim in asked.claims if claim[0] in may_trade]
    won = await insert_keys(session, kept, asked.now, asked.expires_at) if kept else set()
    return owners, won


def claimed_arrays(claims: list[tuple[int, str, str]]) -> dict[str, list[Any]]:
    """The parameters of array_statements.CLAIMED: (user, key, fingerprint) claims."""
    return arrays(
        "claimed",
        user_id=[user_id for user_id, _, _ in claims],
        key=[key for _, key, _ in claims],
        request_hash=[fingerprint for _, _, fingerprint in claims],
    )


async def insert_keys(
    session: AsyncSession,
    claims: list[tuple[int, str, str]],
    now: datetime,
    expires_at: datetime,
) -> set[KeyIdent]:
    """Insert each (user, key, request fingerprint) not stored yet; the keys inserted.

    The insert waits on a concurrent uncommitted insert of the same key (PostgreSQL's unique
    index; SQLite's write lock), so exactly one of them inserts it.
    """
    if takes_arrays(session):
        parameters = {**claimed_arrays(claims), "now": now, "expires_at": expires_at}
        claimed = await array_statements.CLAIM_KEYS.fetch(session, parameters)
        return {(row["user_id"], row["key"]) for row in claimed}
    rows = [
        {
            "user_id": user_id,
            "key": key,
            "request_hash": fingerprint,
            "created_at": now,
            "expires_at": expires_at,
        }
        for user_id, key, fingerprint in claims
    ]
    return {(row.user_id, row.key) for row in await session.execute(SQLITE_CLAIM_KEYS, rows)}


async def stored_keys(
    session: AsyncSession, idents: Iterable[KeyIdent]
) -> dict[KeyIdent, IdempotencyKey]:
    """The stored rows of these keys (those that exist)."""
    selected = select(IdempotencyKey).where(
        tuple_(IdempotencyKey.user_id, IdempotencyKey.key).in_(list(idents))
    )
    return {(row.user_id, row.key): row for row in await session.scalars(selected)}


async def delete_keys(session: AsyncSession, idents: list[KeyIdent]) -> None:
    """Delete these keys; one already gone is as good as deleted.

    Core, not ORM deletes: the purge (or another replica) may have removed a row meanwhile.
    """
    await session.execute(delete(KEYS).where(tuple_(KEYS.c.user_id, KEYS.c.key).in_(idents)))


def _key_match() -> ColumnElement[bool]:
    return and_(KEYS.c.user_id == bindparam("k_user_id"), KEYS.c.key == bindparam("k_key"))


async def link_orders(session: AsyncSession, links: list[tuple[int, str, int]]) -> None:
    """Record which order (user, key, order id) each claimed key created.

    SQLite's way; on PostgreSQL the INSERT of the orders links their keys itself
    (orders.insert_orders).
    """
    statement = update(KEYS).where(_key_match()).values(order_id=bindparam("k_order"))
    params = [
        {"k_user_id": user_id, "k_key": key, "k_order": order_id}
        for user_id, key, order_id in links
    ]
    await session.execute(statement, params)


async def store_responses(session: AsyncSession, answers: list[tuple[int, str, int, str]]) -> None:
    """Record each key's (user, key) answer (status, JSON text of the body) for its retries."""
    if takes_arrays(session):
        answered = arrays(
            "answered",
            user_id=[user_id for user_id, _, _, _ in answers],
            key=[key for _, key, _, _ in answers],
            status=[status for _, _, status, _ in answers],
            body=[body for _, _, _, body in answers],
        )
        await array_statements.STORE_RESPONSES.fetch(session, answered)
        return
    statement = (
        update(KEYS)
        .where(_key_match())
        .values(response_status=bindparam("k_status"), response_body=bindparam("k_body"))
    )
    params: list[dict[str, Any]] = [
        {"k_user_id": user_id, "k_key": key, "k_status": status, "k_body": json.loads(body)}
        for user_id, key, status, body in answers
    ]
    await session.execute(statement, params)


async def answer_abandoned_keys(session: AsyncSession, orders: list[OrderRead]) -> None:
    """Answer keys whose request died after creating its order, with that order as it is now."""
    if orders:
        params = [{"k_order_id": o.id, "k_body": o.model_dump(mode="json")} for o in orders]
        await session.execute(ANSWER_ABANDONED, params)


async def purge_expired_keys(session: AsyncSession, now: datetime, limit: int) -> int:
    """Delete up to `limit` keys whose answer has expired (oldest first); return how many.

    Replicas purging at once skip each other's rows (PostgreSQL's SKIP LOCKED).
    """
    expired = select(KEYS.c.id).where(KEYS.c.expires_at <= now).order_by(KEYS.c.expires_at)
    expired = expired.limit(limit)
    if takes_arrays(session):
        expired = expired.with_for_update(skip_locked=True)
    result = await session.execute(delete(KEYS).where(KEYS.c.id.in_(expired.scalar_subquery())))
    return int(getattr(result, "rowcount", 0) or 0)
