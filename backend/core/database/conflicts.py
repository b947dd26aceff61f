"""Transactions PostgreSQL aborted to break a lock cycle: they can simply run again."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def aborted_by_conflict(error: DBAPIError) -> bool:
    """A deadlock or serialization failure: the transaction can simply run again."""
    return getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
