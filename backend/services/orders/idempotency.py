"""Idempotency-Key handling after the IETF draft: replay, reuse (422) and in-flight (409)."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Insert, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow
from backend.core.errors import ConflictError, DomainValidationError
from backend.models.control import IdempotencyKey
from backend.schemas.orders import OrderRead

KEY_LIFETIME = timedelta(hours=24)


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


@functools.cache
def _claim_statement(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id, built once per dialect (a hot path)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = ("user_id", "key", "request_hash", "order_id", "created_at", "expires_at")
    return (
        insert(IdempotencyKey)
        .values({name: bindparam(name) for name in columns})
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyKey.id)
    )


async def claim_key(
    session: AsyncSession, *, user_id: int, key: str, fingerprint: str, order_id: int
) -> StoredResponse | None:
    """Claim `key` for this request, or return the stored answer of the request that did.

    The insert waits on a concurrent uncommitted claim of the same key (PostgreSQL's unique
    index; SQLite's write lock), so exactly one request wins and the others see its row.
    """
    now = utcnow()
    values = {
        "user_id": user_id,
        "key": key,
        "request_hash": fingerprint,
        "order_id": order_id,
        "created_at": now,
        "expires_at": now + KEY_LIFETIME,
    }
    statement = _claim_statement(session.get_bind().dialect.name)
    if (await session.execute(statement, values)).scalar_one_or_none() is not None:
        return None
    existing = await session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    assert existing is not None
    if existing.expires_at <= now:
        await session.delete(existing)
        await session.flush()
        return await claim_key(
            session, user_id=user_id, key=key, fingerprint=fingerprint, order_id=order_id
        )
    if existing.request_hash != fingerprint:
        raise DomainValidationError(
            "this Idempotency-Key was used with a different request body",
            code="idempotency_key_reused",
        )
    if existing.response_status is None or existing.response_body is None:
        raise ConflictError(
            "a request with this Idempotency-Key is still in progress",
            code="idempotency_in_progress",
        )
    return StoredResponse(existing.response_status, existing.response_body)


async def store_response(
    session: AsyncSession, *, user_id: int, key: str, status_code: int, body: dict[str, Any]
) -> None:
    """Record the answer so retries replay it."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .values(response_status=status_code, response_body=body)
    )


async def answer_abandoned_keys(session: AsyncSession, orders: list[OrderRead]) -> None:
    """Answer keys whose request died after creating its order, with that order as it is now."""
    for order in orders:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.order_id == order.id, IdempotencyKey.response_status.is_(None))
            .values(response_status=201, response_body=order.model_dump(mode="json"))
        )
