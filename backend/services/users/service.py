"""UserService: create accounts, change them, administer them."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import ConflictError, NotFoundError
from backend.core.security.passwords import PasswordHasher
from backend.models.enums import UserRole
from backend.models.user import User
from backend.services.users.repository import UserRepository

logger = structlog.get_logger(__name__)


class UserService:
    """Account rules; usernames and emails are compared and stored lower-case."""

    def __init__(self, passwords: PasswordHasher) -> None:
        self.passwords = passwords

    async def create(
        self,
        session: AsyncSession,
        *,
        username: str,
        email: str,
        password: str,
        full_name: str | None = None,
        role: UserRole = UserRole.TRADER,
    ) -> User:
        """Insert a user; 409 `username_taken` / `email_taken` on a duplicate."""
        repository = UserRepository(session)
        username, email = username.lower(), email.lower()
        # Hash before touching the database: no connection is held during the slow part.
        hashed = await self.passwords.hash(password)
        await self._ensure_free(repository, username=username, email=email)
        try:
            async with session.begin_nested():
                user = await repository.create(
                    username=username,
                    email=email,
                    hashed_password=hashed,
                    full_name=full_name or None,
                    role=role,
                    is_superuser=role is UserRole.ADMIN,
                )
        except IntegrityError:
            # A concurrent registration won the race: say which field it took.
            await self._ensure_free(repository, username=username, email=email)
            raise
        logger.info("user_created", user_id=user.id, role=role.value)
        return user

    async def _ensure_free(
        self, repository: UserRepository, *, username: str | None = None, email: str | None = None
    ) -> None:
        if username is not None and await repository.get_by_username(username) is not None:
            raise ConflictError(f"username {username!r} is taken", code="username_taken")
        if email is not None and await repository.get_by_email(email) is not None:
            raise ConflictError("this email is already registered", code="email_taken")

    async def update_profile(
        self,
        session: AsyncSession,
        user: User,
        *,
        full_name: str | None = None,
        email: str | None = None,
        password: str | None = None,
    ) -> User:
        """Change one's own name, email or password; a new password ends every session."""
        repository = UserRepository(session)
        new_hash = None if password is None else await self.passwords.hash(password)
        await session.refresh(user)  # current state, whatever happened during the hash
        if full_name is not None:
            user.full_name = full_name or None
        if email is not None and email.lower() != user.email:
            await self._ensure_free(repository, email=email)
            user.email = email.lower()
        if new_hash is not None:
            user.hashed_password = new_hash
            user.token_version += 1
            logger.info("password_changed", user_id=user.id)
        await session.flush()
        return user

    async def administer(
        self,
        session: AsyncSession,
        *,
        actor: User,
        user_id: int,
        is_active: bool | None = None,
        role: UserRole | None = None,
    ) -> User:
        """An admin activates, deactivates or changes the role of a user."""
        user = await UserRepository(session).get_by_id(user_id)
        if user is None:
            raise NotFoundError(f"user {user_id} not found", code="user_not_found")
        if user.id == actor.id and (is_active is False or role not in (None, UserRole.ADMIN)):
            raise ConflictError(
                "administrators cannot deactivate or demote themselves", code="cannot_modify_self"
            )
        if is_active is not None and is_active != user.is_active:
            user.is_active = is_active
            # Reactivation must not revive tokens issued before the deactivation.
            user.token_version += 1
        if role is not None:
            user.role = role
            user.is_superuser = role is UserRole.ADMIN
        await session.flush()
        logger.info(
            "user_administered",
            user_id=user.id,
            actor_id=actor.id,
            is_active=user.is_active,
            role=user.role.value,
        )
        return user

    async def page(
        self, session: AsyncSession, *, limit: int, offset: int
    ) -> tuple[Sequence[User], int]:
        """A page of users and the total."""
        return await UserRepository(session).page(limit=limit, offset=offset)

    async def ensure_admin(
        self, session: AsyncSession, *, username: str, email: str, password: str
    ) -> User | None:
        """Create the configured first admin if no user has that name; None if one exists."""
        if await UserRepository(session).get_by_username(username) is not None:
            return None
        try:
            return await self.create(
                session, username=username, email=email, password=password, role=UserRole.ADMIN
            )
        except ConflictError:
            # Another replica created it meanwhile; its commit may land between our username
            # and email checks, so the conflict can name either field.
            if await UserRepository(session).get_by_username(username) is not None:
                return None
            raise
