"""The database's clock: one clock for every replica, whatever their hosts' clocks say."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow
from backend.core.database.dialect import on_postgresql


async def database_now(session: AsyncSession) -> datetime:
    """Now by the PostgreSQL server; by this host for SQLite (a file: every process shares it).

    For times compared across replicas, such as heartbeats: a host whose clock runs behind
    must not look silent to the others.
    """
    if on_postgresql(session):
        now = await session.scalar(select(func.statement_timestamp()))
        assert isinstance(now, datetime)
        return now
    return utcnow()
