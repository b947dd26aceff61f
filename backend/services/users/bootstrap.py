"""The first administrator, from configuration, at start-up."""

from __future__ import annotations

import structlog

from backend.core.config.settings import AdminConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import ConflictError
from backend.core.security.passwords import PasswordHasher
from backend.services.users.service import UserService

logger = structlog.get_logger(__name__)


async def ensure_first_admin(
    config: AdminConfig, database: AsyncDatabaseManager, passwords: PasswordHasher
) -> None:
    """Create `ADMIN__USERNAME` if configured and missing; an existing user is left alone.

    When another account already has `ADMIN__EMAIL`, no admin is created and start-up goes
    on with one warning line saying so (the configured admin is a convenience, not a need).
    """
    if config.username is None or config.password is None:
        return
    try:
        async with database.session() as session:
            created = await UserService(passwords).ensure_admin(
                session,
                username=config.username,
                email=config.email,
                password=config.password.get_secret_value(),
            )
    except ConflictError as exc:
        reason = str(exc.detail)
        if exc.code == "email_taken":
            reason = f"another account has the email {config.email.lower()!r} (ADMIN__EMAIL)"
        logger.warning("admin_not_created", username=config.username.lower(), reason=reason)
        return
    if created is not None:
        logger.info("admin_created", username=created.username, user_id=created.id)
