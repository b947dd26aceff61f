"""ApiKeyService: create, list and revoke API keys (the owner's, or any for an admin)."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.cache.invalidation import Invalidations
from backend.core.database.base import utcnow
from backend.core.database.unit_of_work import UnitOfWork
from backend.core.errors import ConflictError, DomainValidationError, NotFoundError, ReadOnlyError
from backend.core.security.keyed_hash import SecretDigester, new_api_key
from backend.core.security.revocation import user_invalidation
from backend.models.api_key import ApiKey
from backend.models.enums import UserRole
from backend.models.user import User
from backend.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyRead

logger = structlog.get_logger(__name__)

MAX_LIVE_KEYS_PER_USER = 25


def key_view(key: ApiKey) -> ApiKeyRead:
    """The API's view of a key (the public id is its `prefix`)."""
    return ApiKeyRead(
        id=key.id,
        user_id=key.user_id,
        name=key.name,
        prefix=f"rfk_{key.public_id}",
        scopes=list(key.scopes),
        allowed_networks=key.allowed_networks,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


class ApiKeyService:
    """API keys of users; revocations reach every replica once committed."""

    def __init__(self, digester: SecretDigester, invalidations: Invalidations) -> None:
        self.digester = digester
        self.invalidations = invalidations

    async def create(self, session: AsyncSession, user: User, body: ApiKeyCreate) -> ApiKeyCreated:
        """A new key; its secret is in this answer only. 403 `read_only` for a viewer's
        `trade` key, 409 `too_many_api_keys` over the per-user limit."""
        if "trade" in body.scopes and user.role is UserRole.VIEWER:
            raise ReadOnlyError("viewers may create read keys only")
        if body.expires_at is not None and body.expires_at <= utcnow():
            raise DomainValidationError("expires_at must be in the future", code="invalid_expiry")
        live = select(func.count()).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
        if (await session.scalar(live) or 0) >= MAX_LIVE_KEYS_PER_USER:
            raise ConflictError(
                f"at most {MAX_LIVE_KEYS_PER_USER} live keys per user", code="too_many_api_keys"
            )
        public_id, secret, raw = new_api_key()
        key = ApiKey(
            user_id=user.id,
            public_id=public_id,
            secret_hash=self.digester.digest(secret),
            name=body.name,
            scopes=list(body.scopes),
            allowed_networks=body.allowed_networks,
            granted_role=user.role.value,
            created_at=utcnow(),
            expires_at=body.expires_at,
        )
        session.add(key)
        await session.flush()
        logger.info("api_key_created", key=public_id, user_id=user.id, scopes=key.scopes)
        return ApiKeyCreated(**key_view(key).model_dump(), key=raw)

    @staticmethod
    async def page(
        session: AsyncSession, *, user_id: int | None, limit: int, offset: int
    ) -> tuple[Sequence[ApiKey], int]:
        """Keys, newest first: one user's, or everyone's (`user_id` None, for admins)."""
        query = select(ApiKey)
        counted = select(func.count()).select_from(ApiKey)
        if user_id is not None:
            query = query.where(ApiKey.user_id == user_id)
            counted = counted.where(ApiKey.user_id == user_id)
        query = query.order_by(ApiKey.id.desc()).limit(limit).offset(offset)
        items = (await session.scalars(query)).all()
        return items, int(await session.scalar(counted) or 0)

    async def revoke(
        self, work: UnitOfWork, *, key_id: int, owner_id: int | None, actor: int
    ) -> None:
        """Revoke a key (the owner's own, or any when `owner_id` is None); 404 otherwise.

        Every replica forgets the owner's remembered keys once this commits.
        """
        key = await work.session.get(ApiKey, key_id)
        if key is None or (owner_id is not None and key.user_id != owner_id):
            raise NotFoundError(f"API key {key_id} not found", code="api_key_not_found")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
        user_id, public_id = key.user_id, key.public_id
        logger.info("api_key_revoked", key=public_id, user_id=user_id, actor=actor)

        async def announce() -> None:
            await self.invalidations.publish(user_invalidation(user_id))

        work.after_commit(announce)
