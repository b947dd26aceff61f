"""`INSERT ... ON CONFLICT` in the session's dialect: PostgreSQL's and SQLite's share one API."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def conflict_insert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """`insert(table)` with `on_conflict_do_nothing` / `on_conflict_do_update` available."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
