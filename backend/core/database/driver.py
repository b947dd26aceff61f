"""DriverQuery: a Core SELECT compiled once, run with asyncpg itself on PostgreSQL.

On the hottest reads (GET /orders/{id}) SQLAlchemy's execution layer (a Connection, an
execution context, result processing) costs more CPU than the query's round trip. On
PostgreSQL this runs the SQL that SQLAlchemy compiled on an asyncpg connection taken
straight from SQLAlchemy's pool; on SQLite it executes the statement through Core as usual.

Rows come back as the driver decodes them (Decimal, aware UTC datetimes, enum values as str),
so callers validate them into a schema, which coerces what SQLAlchemy's column types would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from backend.core.database.manager import AsyncDatabaseManager


class DriverQuery:
    """One SELECT, compiled for asyncpg once; `first()` answers its first row or None."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        compiled = statement.compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]
        self.sql = str(compiled)
        self.parameters = tuple(compiled.positiontup or ())

    async def first(
        self, database: AsyncDatabaseManager, parameters: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The first row as a dict of column names to values, or None."""
        if database.uses_asyncpg:
            values = [parameters[name] for name in self.parameters]
            async with database.driver_connection() as driver:
                row = await driver.fetchrow(self.sql, *values)
            return None if row is None else dict(row)
        async with database.read_connection() as connection:
            found = (await connection.execute(self.statement, parameters)).mappings().first()
        return None if found is None else dict(found)
