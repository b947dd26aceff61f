"""`redfire create-admin`: an administrator from the command line."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys

from pydantic import BaseModel, ValidationError

from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import ConflictError
from backend.core.security.passwords import PasswordHasher
from backend.models.enums import UserRole
from backend.schemas.users import Email, Password, Username
from backend.services.users.service import UserService

PASSWORD_ENV = "REDFIRE_ADMIN_PASSWORD"  # noqa: S105 (a variable name, not a secret)


class _AdminInput(BaseModel):
    username: Username
    email: Email
    password: Password


def _read_password() -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    password = getpass.getpass("password: ")
    if getpass.getpass("repeat password: ") != password:
        raise ValueError("the passwords differ")
    return password


async def _create(config: AppConfig, admin: _AdminInput) -> int:
    database = AsyncDatabaseManager(config.database)
    passwords = PasswordHasher(config.security)
    try:
        async with database.session() as session:
            user = await UserService(passwords).create(
                session,
                username=admin.username,
                email=admin.email,
                password=admin.password,
                role=UserRole.ADMIN,
            )
        print(f"created admin {user.username!r} (id {user.id})")
        return 0
    except ConflictError as exc:
        print(f"redfire: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        passwords.close()
        await database.dispose()


def create_admin(config: AppConfig, *, username: str, email: str) -> int:
    """Create an admin; 0 on success, 1 if the name or email is taken, 2 on bad input."""
    try:
        admin = _AdminInput(username=username, email=email, password=_read_password())
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"redfire: invalid input: {problems}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"redfire: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_create(config, admin))
