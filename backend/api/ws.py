"""WebSocket `/api/v1/ws`: live orders, trades, strategy events and ticks (see stream/hub.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, WebSocket

from backend.api.prefix import API_PREFIX
from backend.core.container import AppContainer
from backend.services.auth import AuthService
from backend.services.stream.hub import Authenticator, Identity

router = APIRouter(prefix=API_PREFIX, tags=["stream"])


def _authenticator(container: AppContainer) -> Authenticator:
    async def authenticate(token: str) -> Identity:
        async with container.database.session() as session:
            auth = AuthService(container.security, container.revocations)
            user, claims = await auth.authenticate(session, token=token)
            return Identity(user_id=user.id, expires_at=claims.expires_at)

    return authenticate


@router.websocket("/ws")
async def stream(
    websocket: WebSocket,
    token: Annotated[str | None, Query(max_length=4096)] = None,
) -> None:
    """Authenticate (`?token=` or a first `auth` message), then stream until either side closes."""
    container: AppContainer = websocket.app.state.container
    await websocket.accept()
    await container.stream.hub.serve(
        websocket, token=token or None, authenticate=_authenticator(container)
    )
