"""Programs acting for users: API keys (their checks and management) and webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection

from backend.api.deps.connection import container_of
from backend.services.apikeys.guard import ApiKeyGuard
from backend.services.apikeys.service import ApiKeyService
from backend.services.webhooks.intake import SignalIntake
from backend.services.webhooks.service import WebhookService


async def get_api_key_guard(connection: HTTPConnection) -> ApiKeyGuard:
    """API key checks (the WebSocket's; HTTP requests go through identity.py)."""
    return container_of(connection).api_keys


async def get_api_key_service(connection: HTTPConnection) -> ApiKeyService:
    """Create, list and revoke API keys."""
    security = container_of(connection).security
    return ApiKeyService(security.digester, security.invalidations)


async def get_webhook_service(connection: HTTPConnection) -> WebhookService:
    """A user's webhooks and their deliveries."""
    return WebhookService(container_of(connection).security.digester)


async def get_signal_intake(connection: HTTPConnection) -> SignalIntake:
    """Deliveries to webhooks, turned into orders."""
    container = container_of(connection)
    security = container.security
    return SignalIntake(
        container.database,
        security.digester,
        container.trading.orders,
        failures=security.credential_failures,
        deliveries=security.webhook_limiter,
    )


ApiKeyGuardDep = Annotated[ApiKeyGuard, Depends(get_api_key_guard)]
ApiKeyServiceDep = Annotated[ApiKeyService, Depends(get_api_key_service)]
WebhookServiceDep = Annotated[WebhookService, Depends(get_webhook_service)]
SignalIntakeDep = Annotated[SignalIntake, Depends(get_signal_intake)]
