"""`INSERT ... ON CONFLICT` in the session's dialect: PostgreSQL's and SQLite's share one API."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.dialect import on_postgresql


def conflict_insert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """`insert(table)` with `on_conflict_do_nothing` / `on_conflict_do_update` available."""
    if on_postgresql(session):
        return postgresql.insert(table)
    return sqlite.insert(table)
