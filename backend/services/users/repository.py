"""Queries specific to users."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.repository import AsyncRepository
from backend.models.user import User


class UserRepository(AsyncRepository[User]):
    """Users, looked up by their lower-case username or email."""

    model = User

    async def get_by_username(self, username: str) -> User | None:
        """The user with this username, whatever its case."""
        result = await self.session.execute(select(User).where(User.username == username.lower()))
        return result.scalar_one_or_none()

    async def get_by_email(self, email: str) -> User | None:
        """The user with this email, whatever its case."""
        result = await self.session.execute(select(User).where(User.email == email.lower()))
        return result.scalar_one_or_none()

    async def page(self, *, limit: int, offset: int) -> tuple[Sequence[User], int]:
        """Users in id order, and how many there are."""
        result = await self.session.execute(
            select(User).order_by(User.id).limit(limit).offset(offset)
        )
        items = result.scalars().all()
        return items, await self.count()

    async def set_password_hash(self, user_id: int, hashed_password: str) -> None:
        """Replace a password hash without loading the user."""
        await self.session.execute(
            update(User).where(User.id == user_id).values(hashed_password=hashed_password)
        )


async def release_connection(session: AsyncSession) -> None:
    """End a transaction that has only read, before slow CPU work such as password hashing.

    Holding it would keep a pooled connection (and, on SQLite, the write lock that every
    transaction takes) for the length of a hash. Loaded objects expire: reload before use.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("release_connection() with pending changes would lose them")
    if session.in_transaction():
        await session.rollback()
