"""Idempotency-Key handling after the IETF draft: replay, reuse (422) and in-flight (409).

The statements are the order repository's (repository/keys.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow
from backend.core.errors import ConflictError, DomainValidationError, RedFireError
from backend.models.control import IdempotencyKey
from backend.services.orders import repository
from backend.services.orders.repository import KeyIdent

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


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """A keyed request asking for its key."""

    user_id: int
    key: str
    fingerprint: str

    @property
    def ident(self) -> KeyIdent:
        """The key's identity: keys are per user."""
        return self.user_id, self.key


ClaimOutcome = StoredResponse | RedFireError | None


def distinct_claims(claims: list[KeyClaim]) -> list[KeyClaim]:
    """The first claim of each key, in key order: the order keys are inserted in, so
    concurrent batches cannot deadlock on each other."""
    first: dict[KeyIdent, KeyClaim] = {}
    for claim in claims:
        first.setdefault(claim.ident, claim)
    return [claim for _, claim in sorted(first.items())]


async def claim_keys(
    session: AsyncSession, claims: list[KeyClaim], won: set[KeyIdent] | None = None
) -> list[ClaimOutcome]:
    """Claim each key; per claim, None when it now holds its key, else what to answer.

    The answer for a key already used is its stored response (a replay), 422 for another
    body, or 409 while its first request is still running; a key named twice in `claims` is
    claimed by the first. The insert waits on a concurrent uncommitted claim of the same key
    (PostgreSQL's unique index; SQLite's write lock), so exactly one request wins. `won`:
    the keys of `distinct_claims(claims)` the caller inserted already (owners.py), in this
    transaction; else they are inserted here.
    """
    now = utcnow()
    first = {claim.ident: claim for claim in distinct_claims(claims)}
    if won is not None:
        won = set(won)
    else:
        won = await repository.insert_keys(
            session,
            [(claim.user_id, claim.key, claim.fingerprint) for claim in first.values()],
            now,
            now + KEY_LIFETIME,
        )
    lost = [ident for ident in first if ident not in won]
    existing: dict[KeyIdent, IdempotencyKey] = {}
    # A key whose stored answer expired is claimed afresh (one level deep: the renewal is new).
    renewed: dict[KeyIdent, ClaimOutcome] = {}
    if lost:
        existing = await repository.stored_keys(session, lost)
        expired = [first[ident] for ident, row in existing.items() if row.expires_at <= now]
        if expired:
            # The purge (or another replica) may have removed a row meanwhile: as good.
            idents = [claim.ident for claim in expired]
            await repository.delete_keys(session, idents)
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


async def stored_answer(
    session: AsyncSession, user_id: int, key: str, fingerprint: str
) -> StoredResponse | None:
    """The answer a live stored key gives a request of `fingerprint` (as `answer_for_stored`);
    None when the key is new or expired. For requests that must replay before they read
    anything their first attempt changed (an amendment, a position close)."""
    row = (await repository.stored_keys(session, [(user_id, key)])).get((user_id, key))
    return None if row is None else answer_for_stored(row, fingerprint)


def answer_for_stored(row: IdempotencyKey, fingerprint: str) -> StoredResponse | None:
    """A live key's answer to a request of `fingerprint`: its stored response (a replay), or
    None when expired; 422 for another body, 409 while its first request is in flight."""
    if row.expires_at <= utcnow():
        return None
    outcome = _answer_for(row, fingerprint)
    if isinstance(outcome, RedFireError):
        raise outcome
    return outcome


def _answer_for(row: IdempotencyKey, fingerprint: str) -> ClaimOutcome:
    if row.request_hash != fingerprint:
        return _reused()
    if row.response_status is None or row.response_body is None:
        return _in_progress()
    return StoredResponse(row.response_status, row.response_body)
