"""DriverQuery and DriverStatement: statements compiled once, run with asyncpg itself.

On the hottest reads (GET /orders/{id}) SQLAlchemy's execution layer (a Connection, an
execution context, result processing) costs more CPU than the query's round trip. On
PostgreSQL this runs the SQL that SQLAlchemy compiled on an asyncpg connection held out of
SQLAlchemy's pool for such reads (held.py); on SQLite it executes the statement through Core
as usual.

Rows come back as the driver decodes them (Decimal, aware UTC datetimes, enum values as str),
so callers validate them into a schema, which coerces what SQLAlchemy's column types would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import asyncpg
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from backend.core.database.held import HeldConnectionLostError
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
            try:
                row = await database.held.fetchrow(self.sql, values)
            except HeldConnectionLostError:
                # The server ended the connection while it was held (a restart, an idle
                # timeout): the read is repeated once, on a fresh one.
                row = await database.held.fetchrow(self.sql, values)
            return None if row is None else dict(row)
        async with database.read_connection() as connection:
            found = (await connection.execute(self.statement, parameters)).mappings().first()
        return None if found is None else dict(found)


class DriverStatement:
    """A statement compiled for asyncpg once, run inside a session's transaction (PostgreSQL).

    For the statements that book and acknowledge batches of orders: they run on the asyncpg
    connection under the session, in the transaction SQLAlchemy began, without building an
    execution context or processing each returned value in Python. Rows come back as dicts
    of what asyncpg decoded (see DriverQuery). Constant parameters bound when the statement
    was built travel with it; the others are passed by name.
    """

    def __init__(self, statement: ClauseElement) -> None:
        dialect = asyncpg_dialect()  # type: ignore[no-untyped-call]
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = str(compiled)
        self.parameters = tuple(compiled.positiontup or ())
        # Values fixed when the statement was built (an IN list of statuses, say).
        self.constants = {
            name: value for name, value in compiled.params.items() if value is not None
        }

    async def fetch(
        self, session: AsyncSession, parameters: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Every row the statement returns, as dicts."""
        driver = await begin_transaction(session)
        try:
            rows = await driver.fetch(self.sql, *self._values(parameters))
        except asyncpg.PostgresError as exc:
            # What SQLAlchemy would raise for the same refusal (a deadlock, a constraint):
            # callers retry or give up on DBAPIError alike, whichever way the statement ran.
            raise DBAPIError(self.sql, None, exc) from exc
        return [dict(row) for row in rows]

    async def fetch_alone(
        self, database: AsyncDatabaseManager, parameters: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Every row the statement returns, run in no session: it commits on its own (all
        of its data-modifying CTEs, or none), on a pooled asyncpg connection.

        One round trip where a session's BEGIN, statement and COMMIT take three. A connection
        lost under it raises what asyncpg raised: the statement may have committed.
        """
        try:
            async with database.driver_connection() as driver:
                rows = await driver.fetch(self.sql, *self._values(parameters))
        except asyncpg.PostgresError as exc:  # the connection went back to the pool
            raise DBAPIError(self.sql, None, exc) from exc
        return [dict(row) for row in rows]

    def _values(self, parameters: Mapping[str, Any]) -> list[Any]:
        return [
            parameters[name] if name in parameters else self.constants[name]
            for name in self.parameters
        ]


async def begin_transaction(session: AsyncSession) -> asyncpg.Connection:
    """The session's asyncpg connection, its transaction begun (PostgreSQL only)."""
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    await _begin(pooled.dbapi_connection)
    driver: asyncpg.Connection | None = pooled.driver_connection
    assert driver is not None  # a live connection: the session's transaction is open
    return driver


async def _begin(adapted: Any) -> None:
    """BEGIN the session's transaction on the connection, if SQLAlchemy has not yet.

    SQLAlchemy's asyncpg adapter sends BEGIN before the first statement it executes itself;
    a statement run on asyncpg directly would otherwise run (and commit) on its own. Started
    through the adapter, the session's commit or rollback ends it as usual.
    """
    if adapted._transaction is None and adapted.isolation_level != "autocommit":
        await adapted._start_transaction()
