"""User: an account that logs in, with a role (admin, trader, viewer)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, TimestampMixin
from backend.core.database.types import string_enum
from backend.models.enums import UserRole


class User(TimestampMixin, Base):
    """An account; `username` and `email` are stored lower-case, so uniqueness ignores case.

    `token_version` is embedded in every token (`ver` claim): bumping it on a password change
    or a deactivation invalidates every token issued before.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str] = mapped_column(String(100), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[UserRole] = mapped_column(
        string_enum(UserRole, "user_role"),
        default=UserRole.TRADER,
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    token_version: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role.value!r})"
