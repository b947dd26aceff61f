"""Idempotency-Key handling after the IETF draft: replay, reuse (422) and in-flight (409)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow
from backend.core.errors import ConflictError, DomainValidationError, RedFireError
from backend.models.control import IdempotencyKey
from backend.schemas.orders import OrderRead
from backend.services.orders import bulk

KEY_LIFETIME = timedelta(hours=24)
# Core table statements: batches of keys are plain executemany, without ORM bookkeeping
# (on PostgreSQL, one statement over arrays: see bulk.py).
KEYS = bulk.KEYS


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first answer to a keyed request."""

    status_code: int
    body: dict[str, Any]


def _canonical(value: Any) -> str:
    if isinstance(value, Decimal):
        # 1, 1.0 and "1.00" are the same quantity, so the same request.
        return format(value.normalize(), "f")
    return str(value)


def request_fingerprint(payload: dict[str, Any]) -> str:
    """A digest of the request body that ignores key order and number spelling."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """A keyed request asking for its key."""

    user_id: int
    key: str
    fingerprint: str

    @property
    def ident(self) -> tuple[int, str]:
        """The key's identity: keys are per user."""
        return self.user_id, self.key


ClaimOutcome = StoredResponse | RedFireError | None


# SQLite's claim, one row per key (PostgreSQL's takes arrays: bulk.CLAIM_KEYS).
SQLITE_CLAIM_KEYS = (
    sqlite.insert(KEYS)
    .on_conflict_do_nothing(index_elements=["user_id", "key"])
    .returning(KEYS.c.user_id, KEYS.c.key)
)


async def claim_keys(session: AsyncSession, claims: list[KeyClaim]) -> list[ClaimOutcome]:
    """Claim each key; per claim, None when it now holds its key, else what to answer.

    The answer for a key already used is its stored response (a replay), 422 for another
    body, or 409 while its first request is still running; a key named twice in `claims` is
    claimed by the first. The insert waits on a concurrent uncommitted claim of the same key
    (PostgreSQL's unique index; SQLite's write lock), so exactly one request wins; keys are
    inserted in one order, so concurrent batches cannot deadlock on each other.
    """
    now = utcnow()
    first: dict[tuple[int, str], KeyClaim] = {}
    for claim in claims:
        first.setdefault(claim.ident, claim)
    ordered = [claim for _, claim in sorted(first.items())]
    if bulk.takes_arrays(session):
        claimed = await bulk.CLAIM_KEYS.fetch(
            session,
            {
                **bulk.arrays(
                    "claimed",
                    user_id=[claim.user_id for claim in ordered],
                    key=[claim.key for claim in ordered],
                    request_hash=[claim.fingerprint for claim in ordered],
                ),
                "now": now,
                "expires_at": now + KEY_LIFETIME,
            },
        )
    else:
        rows = [
            {
                "user_id": claim.user_id,
                "key": claim.key,
                "request_hash": claim.fingerprint,
                "created_at": now,
                "expires_at": now + KEY_LIFETIME,
            }
            for claim in ordered
        ]
        claimed = [row._asdict() for row in await session.execute(SQLITE_CLAIM_KEYS, rows)]
    won = {(row["user_id"], row["key"]) for row in claimed}
    lost = [ident for ident in first if ident not in won]
    existing: dict[tuple[int, str], IdempotencyKey] = {}
    # A key whose stored answer expired is claimed afresh (one level deep: the renewal is new).
    renewed: dict[tuple[int, str], ClaimOutcome] = {}
    if lost:
        selected = select(IdempotencyKey).where(
            tuple_(IdempotencyKey.user_id, IdempotencyKey.key).in_(lost)
        )
        existing = {(row.user_id, row.key): row for row in await session.scalars(selected)}
        expired = [first[ident] for ident, row in existing.items() if row.expires_at <= now]
        if expired:
            # Core, not ORM deletes: the purge (or another replica) may have removed a row
            # meanwhile, and a row already gone is as good as deleted here.
            idents = [claim.ident for claim in expired]
            await session.execute(
                delete(KEYS).where(tuple_(KEYS.c.user_id, KEYS.c.key).in_(idents))
            )
            for ident in idents:
                del existing[ident]
            outcomes = await claim_keys(session, expired)
            renewed = {c.ident: outcome for c, outcome in zip(expired, outcomes, strict=True)}
            won |= {ident for ident, outcome in renewed.items() if outcome is None}
    answers: list[ClaimOutcome] = []
    for claim in claims:
        holder = first[claim.ident]
        if claim.ident in won:
            answers.append(None if claim is holder else _in_flight(holder, claim))
        elif claim.ident in renewed:
            answers.append(renewed[claim.ident])
        elif claim.ident in existing:
            answers.append(_answer_for(existing[claim.ident], claim.fingerprint))
        else:  # its row went between our insert and our read (it expired elsewhere): retry
            answers.append(_in_progress())
    return answers


def _in_flight(holder: KeyClaim, claim: KeyClaim) -> RedFireError:
    """The answer to a second request with a key the first is still using."""
    if holder.fingerprint != claim.fingerprint:
        return _reused()
    return _in_progress()


def _reused() -> DomainValidationError:
    return DomainValidationError(
        "this Idempotency-Key was used with a different request body",
        code="idempotency_key_reused",
    )


def _in_progress() -> ConflictError:
    return ConflictError(
        "a request with this Idempotency-Key is still in progress",
        code="idempotency_in_progress",
    )


def _answer_for(row: IdempotencyKey, fingerprint: str) -> ClaimOutcome:
    if row.request_hash != fingerprint:
        return _reused()
    if row.response_status is None or row.response_body is None:
        return _in_progress()
    return StoredResponse(row.response_status, row.response_body)


def _key_match() -> ColumnElement[bool]:
    return and_(KEYS.c.user_id == bindparam("k_user_id"), KEYS.c.key == bindparam("k_key"))


async def link_orders(session: AsyncSession, links: list[tuple[KeyClaim, int]]) -> None:
    """Record which order each claimed key created (committed with the order).

    SQLite's way; on PostgreSQL the INSERT of the orders links their keys itself
    (bulk.INSERT_AND_LINK_ORDERS).
    """
    statement = update(KEYS).where(_key_match()).values(order_id=bindparam("k_order"))
    params = [
        {"k_user_id": claim.user_id, "k_key": claim.key, "k_order": order_id}
        for claim, order_id in links
    ]
    await session.execute(statement, params)


async def store_responses(session: AsyncSession, answers: list[tuple[KeyClaim, int, str]]) -> None:
    """Record each key's answer (status, JSON text of the body) so retries replay it."""
    if bulk.takes_arrays(session):
        answered = bulk.arrays(
            "answered",
            user_id=[claim.user_id for claim, _, _ in answers],
            key=[claim.key for claim, _, _ in answers],
            status=[status for _, status, _ in answers],
            body=[body for _, _, body in answers],
        )
        await bulk.STORE_RESPONSES.fetch(session, answered)
        return
    statement = (
        update(KEYS)
        .where(_key_match())
        .values(response_status=bindparam("k_status"), response_body=bindparam("k_body"))
    )
    params = [
        {
            "k_user_id": claim.user_id,
            "k_key": claim.key,
            "k_status": status,
            "k_body": json.loads(body),
        }
        for claim, status, body in answers
    ]
    await session.execute(statement, params)


# One executemany for every settled order, however many a crashed replica left.
ANSWER_ABANDONED = (
    update(KEYS)
    .where(KEYS.c.order_id == bindparam("k_order_id"), KEYS.c.response_status.is_(None))
    .values(response_status=201, response_body=bindparam("k_body"))
)


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
    if bulk.takes_arrays(session):
        expired = expired.with_for_update(skip_locked=True)
    result = await session.execute(delete(KEYS).where(KEYS.c.id.in_(expired.scalar_subquery())))
    return int(getattr(result, "rowcount", 0) or 0)
