"""AsyncRepository[T]: the few typed queries every model needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import Base

ModelT = TypeVar("ModelT", bound=Base)


class AsyncRepository(Generic[ModelT]):
    """CRUD over one model inside the caller's session; it flushes, the caller commits."""

    model: type[ModelT]

    def __init__(self, session: AsyncSession, model: type[ModelT] | None = None) -> None:
        self.session = session
        if model is not None:
            self.model = model

    async def get_by_id(self, id_: Any) -> ModelT | None:
        """The row with this primary key, or None."""
        return await self.session.get(self.model, id_)

    async def list(
        self, *, limit: int = 50, offset: int = 0, statement: Select[tuple[ModelT]] | None = None
    ) -> Sequence[ModelT]:
        """A page of rows (of `statement` when given)."""
        query = statement if statement is not None else select(self.model)
        result = await self.session.execute(query.limit(limit).offset(offset))
        return result.scalars().all()

    async def count(self, statement: Select[tuple[ModelT]] | None = None) -> int:
        """How many rows `statement` (or the whole table) has."""
        query = statement if statement is not None else select(self.model)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        return int(total or 0)

    async def create(self, **values: Any) -> ModelT:
        """Insert a row and flush so its generated columns are set."""
        instance = self.model(**values)
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def update(self, instance: ModelT, **values: Any) -> ModelT:
        """Set attributes and flush."""
        for key, value in values.items():
            setattr(instance, key, value)
        await self.session.flush()
        return instance

    async def delete(self, instance: ModelT) -> None:
        """Delete a row and flush."""
        await self.session.delete(instance)
        await self.session.flush()
