"""User requests and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from backend.core.security.passwords import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from backend.models.enums import UserRole
from backend.schemas.common import PlainText

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"

Username = Annotated[str, StringConstraints(min_length=3, max_length=50, pattern=USERNAME_PATTERN)]
Email = Annotated[EmailStr, Field(max_length=100)]
Password = Annotated[str, Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)]
FullName = Annotated[PlainText, Field(max_length=100)]


class UserCreate(BaseModel):
    """Registration: every new account is a trader."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    email: Email
    password: Password
    full_name: FullName | None = None


class UserRead(BaseModel):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str
    full_name: str | None
    role: UserRole
    is_active: bool
    created_at: datetime


class UserSelfUpdate(BaseModel):
    """Changes to one's own account; the current password confirms them."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    email: Email | None = None
    password: Password | None = None
    current_password: Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)]


class UserAdminUpdate(BaseModel):
    """What an administrator may change on any account."""

    model_config = ConfigDict(extra="forbid")

    is_active: bool | None = None
    role: UserRole | None = None
