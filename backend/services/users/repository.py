"""Queries specific to users."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

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
