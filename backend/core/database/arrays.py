"""Whole batches as one array per column: PostgreSQL's `unnest`.

`INSERT ... SELECT FROM unnest(:a, :b, ...)` and `UPDATE ... FROM unnest(...)` are one
statement whatever the batch size: compiled once, and each column's values go to asyncpg as
one array it encodes in C, instead of SQLAlchemy processing every value of every row in
Python. SQLite has no arrays: there the same work takes per-row statements.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import TableValuedAlias, bindparam, func
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from backend.core.database.dialect import on_postgresql


def takes_arrays(session: AsyncSession) -> bool:
    """True when `session` is on PostgreSQL, where statements over `unnest` apply."""
    return on_postgresql(session)


def unnest(name: str, **columns: TypeEngine[Any]) -> TableValuedAlias:
    """`unnest(:name_column, ...) AS name(column, ...)`: one array per column, one row each.

    Bind the arrays with `arrays(name, column=[...], ...)`.
    """
    bound = [
        bindparam(f"{name}_{column}", type_=postgresql.ARRAY(kind))
        for column, kind in columns.items()
    ]
    return func.unnest(*bound).table_valued(*columns).render_derived(name=name)


def arrays(name: str, **columns: list[Any]) -> dict[str, list[Any]]:
    """The parameters of `unnest(name, ...)`: each column's values, one per row."""
    return {f"{name}_{column}": values for column, values in columns.items()}
