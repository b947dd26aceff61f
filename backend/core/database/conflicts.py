"""Transactions PostgreSQL aborted to break a lock cycle (they can simply run again), and
inserts another transaction's committed row beat to a unique key."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def aborted_by_conflict(error: DBAPIError) -> bool:
    """A deadlock or serialization failure: the transaction can simply run again."""
    return getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


UNIQUE_VIOLATION = "23505"


def lost_unique_race(error: DBAPIError) -> bool:
    """A unique key another transaction took first: what was checked before the insert
    (a client order id, an amended order) is taken now, and reads so when checked again."""
    return getattr(error.orig, "sqlstate", None) == UNIQUE_VIOLATION
