"""WebSocket `/api/v1/ws`: live orders, trades, strategy events and ticks (see stream/hub.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, WebSocket

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import ClientIPDep, DatabaseDep
from backend.api.deps.platform import StreamHubDep
from backend.api.deps.programs import ApiKeyGuardDep
from backend.api.deps.services import AuthServiceDep
from backend.api.responses import error_responses
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import RedFireError
from backend.core.security.keyed_hash import is_api_key
from backend.services.apikeys.guard import ApiKeyGuard
from backend.services.auth import AuthService
from backend.services.stream.hub import Authenticator, Identity
from backend.services.stream.protocol import MAX_MESSAGE_CHARS

router = APIRouter(prefix=API_PREFIX, tags=["stream"], route_class=ApiRoute)

TokenQuery = Annotated[
    str | None, Query(max_length=4096, description="An access token (or send an `auth` message)")
]

PROTOCOL = f"""A WebSocket, not an HTTP resource: connect with the WebSocket handshake
(`ws://` or `wss://`). A plain HTTP GET is answered 426 `upgrade_required`.

**Authentication**: `?token=<access token>`, or a first message
`{{"op": "auth", "token": "<access token>"}}` within `STREAM__WS_AUTH_TIMEOUT_SECONDS` (5 s).
An API key (any scope) may stand in for the token: as the handshake's `X-API-Key` header, or
as the `token` of either. A bad, expired or revoked token or key, or none in time, closes the
connection with 1008; so does the token's (or key's) expiry or revocation while streaming.
One client address may have `STREAM__WS_MAX_PENDING_PER_CLIENT` (8) connections awaiting
authentication at once; more are closed with 1008.

**Client messages** (one JSON object per text frame, at most {MAX_MESSAGE_CHARS} characters;
a frame over `STREAM__WS_MAX_MESSAGE_BYTES` (32 KiB) is refused with 1009 before it is read):
- `{{"op": "subscribe", "topics": ["tick:IF2412.CFFEX"]}}` and `{{"op": "unsubscribe", ...}}`,
  answered `subscribed` / `unsubscribed` with the topics changed;
- `{{"op": "ping"}}`, answered `pong`.

**Server messages**: `{{"seq": n, "topic": ..., "data": {{...}}}}`, `seq` rising by one per
connection from 1. Topics: `order`, `trade` and `strategy` (the user's own, no subscription
needed), `tick` (subscribed symbols, conflated under bursts), `subscribed`, `unsubscribed`,
`pong`, and `error` (`{{"error": "unknown_topic" | "invalid_json" | "invalid_message", ...}}`).

**Close codes**: 1001 the server is stopping, 1008 authentication, 1009 frame too large,
1011 the server could not check the token, 1013 the client reads too slowly."""


class UpgradeRequiredError(RedFireError):
    """An HTTP request to the WebSocket endpoint."""

    status_code = 426
    code = "upgrade_required"

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Upgrade": "websocket", "Connection": "Upgrade"}


def _authenticator(
    database: AsyncDatabaseManager, auth: AuthService, keys: ApiKeyGuard, client: str
) -> Authenticator:
    async def authenticate(token: str) -> Identity:
        if is_api_key(token):
            holder = await keys.authenticate(token, client_ip=client)
            return Identity(user_id=holder.user_id, expires_at=holder.expires_at)
        async with database.session() as session:
            user, claims = await auth.authenticate(session, token=token)
            return Identity(user_id=user.id, expires_at=claims.expires_at)

    return authenticate


@router.websocket("/ws")
async def stream(
    websocket: WebSocket,
    hub: StreamHubDep,
    database: DatabaseDep,
    auth: AuthServiceDep,
    keys: ApiKeyGuardDep,
    client: ClientIPDep,
    token: TokenQuery = None,
    api_key: Annotated[str | None, Header(alias="X-API-Key", max_length=4096)] = None,
) -> None:
    """Authenticate (`?token=`, `X-API-Key` or a first `auth` message), then stream until
    either side closes."""
    await websocket.accept()
    authenticate = _authenticator(database, auth, keys, client)
    await hub.serve(
        websocket, token=token or api_key or None, authenticate=authenticate, client=client
    )


@router.get(
    "/ws",
    summary="Live orders, trades, strategy events and ticks (WebSocket)",
    description=PROTOCOL,
    status_code=101,
    response_class=Response,
    responses={
        101: {"description": "Switching Protocols: the WebSocket stream"},
        **error_responses(422, 426),
    },
)
async def stream_over_http(token: TokenQuery = None) -> Response:
    """Documents the WebSocket in the OpenAPI document; over HTTP it is always 426."""
    raise UpgradeRequiredError("connect with the WebSocket handshake (ws:// or wss://)")
