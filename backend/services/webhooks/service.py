"""WebhookService: a user's webhooks (create, list, read, disable) and their deliveries."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import ConflictError, NotFoundError, ReadOnlyError
from backend.core.security.keyed_hash import SecretDigester
from backend.models.enums import UserRole
from backend.models.strategy import Strategy
from backend.models.user import User
from backend.models.webhook import Webhook, WebhookDelivery
from backend.schemas.webhooks import WebhookCreate, WebhookCreated, WebhookRead

logger = structlog.get_logger(__name__)

MAX_WEBHOOKS_PER_USER = 25
SIGNALS_PATH = "/api/v1/signals"


def webhook_secret(digester: SecretDigester, webhook: Webhook) -> str:
    """The webhook's shared secret, recomputed (it is never stored)."""
    return digester.derive_secret(f"{webhook.public_id}:{webhook.salt}")


def webhook_view(webhook: Webhook) -> WebhookRead:
    """The API's view of a webhook."""
    return WebhookRead(
        id=webhook.id,
        name=webhook.name,
        auth=webhook.auth,
        strategy_id=webhook.strategy_id,
        is_active=webhook.is_active,
        url=f"{SIGNALS_PATH}/{webhook.public_id}",
        created_at=webhook.created_at,
    )


class WebhookService:
    """Webhooks of one owner; another user's webhook is 404."""

    def __init__(self, digester: SecretDigester) -> None:
        self.digester = digester

    async def create(
        self, session: AsyncSession, user: User, body: WebhookCreate
    ) -> WebhookCreated:
        """A new webhook with its secret (shown in this answer only)."""
        if user.role is UserRole.VIEWER:
            raise ReadOnlyError
        if body.strategy_id is not None:
            owner = await session.scalar(
                select(Strategy.user_id).where(Strategy.id == body.strategy_id)
            )
            if owner != user.id:
                raise NotFoundError(
                    f"strategy {body.strategy_id} not found", code="strategy_not_found"
                )
        count = select(func.count()).where(Webhook.user_id == user.id, Webhook.is_active)
        if (await session.scalar(count) or 0) >= MAX_WEBHOOKS_PER_USER:
            raise ConflictError(
                f"at most {MAX_WEBHOOKS_PER_USER} active webhooks per user",
                code="too_many_webhooks",
            )
        webhook = Webhook(
            user_id=user.id,
            public_id=secrets.token_urlsafe(24),
            salt=secrets.token_hex(16),
            name=body.name,
            auth=body.auth,
            strategy_id=body.strategy_id,
            is_active=True,
        )
        session.add(webhook)
        await session.flush()
        logger.info("webhook_created", webhook_id=webhook.id, user_id=user.id, auth=webhook.auth)
        secret = webhook_secret(self.digester, webhook)
        return WebhookCreated(**webhook_view(webhook).model_dump(), secret=secret)

    @staticmethod
    async def owned(session: AsyncSession, *, user_id: int, webhook_id: int) -> Webhook:
        """One of the user's webhooks; 404 `webhook_not_found` otherwise."""
        webhook = await session.get(Webhook, webhook_id)
        if webhook is None or webhook.user_id != user_id:
            raise NotFoundError(f"webhook {webhook_id} not found", code="webhook_not_found")
        return webhook

    @staticmethod
    async def page(
        session: AsyncSession, *, user_id: int, limit: int, offset: int
    ) -> tuple[Sequence[Webhook], int]:
        """The user's webhooks, newest first."""
        query = select(Webhook).where(Webhook.user_id == user_id)
        total = await session.scalar(select(func.count()).where(Webhook.user_id == user_id))
        items = await session.scalars(query.order_by(Webhook.id.desc()).limit(limit).offset(offset))
        return items.all(), int(total or 0)

    async def disable(self, session: AsyncSession, *, user_id: int, webhook_id: int) -> None:
        """Refuse every further delivery (401); the webhook and its deliveries stay listed."""
        webhook = await self.owned(session, user_id=user_id, webhook_id=webhook_id)
        webhook.is_active = False
        logger.info("webhook_disabled", webhook_id=webhook_id, user_id=user_id)

    async def deliveries(
        self, session: AsyncSession, *, user_id: int, webhook_id: int, limit: int, offset: int
    ) -> tuple[Sequence[WebhookDelivery], int]:
        """A webhook's deliveries, newest first."""
        await self.owned(session, user_id=user_id, webhook_id=webhook_id)
        where = WebhookDelivery.webhook_id == webhook_id
        total = await session.scalar(select(func.count()).where(where))
        query = select(WebhookDelivery).where(where).order_by(WebhookDelivery.id.desc())
        items = await session.scalars(query.limit(limit).offset(offset))
        return items.all(), int(total or 0)
