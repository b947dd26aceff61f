"""AsyncDatabaseService: raw SQL with bound parameters, and all-or-nothing transactions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.manager import AsyncDatabaseManager

Operation = Callable[[AsyncSession], Awaitable[Any]]


class AsyncDatabaseService:
    """Run ad-hoc SQL (reports, maintenance) through the application's engine."""

    def __init__(self, database: AsyncDatabaseManager) -> None:
        self.database = database

    async def execute_query(
        self, query: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Rows of `query` as dicts; values are bound, never formatted into the SQL."""
        async with self.database.session() as session:
            result = await session.execute(text(query), dict(params or {}))
            if not result.returns_rows:  # type: ignore[attr-defined]
                return []
            return [dict(row._mapping) for row in result]

    async def execute_transaction(self, operations: Sequence[Operation]) -> list[Any]:
        """Run operations in one transaction: all of them commit, or none does."""
        async with self.database.session() as session:
            return [await operation(session) for operation in operations]
