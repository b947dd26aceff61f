"""Which database a session talks to, for the few statements that differ between them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


def on_postgresql(session: AsyncSession) -> bool:
    """True on PostgreSQL (production); False on SQLite (the embedded default)."""
    return session.get_bind().dialect.name == "postgresql"
