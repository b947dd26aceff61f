"""StreamHub: authenticates WebSocket clients and fans bus events out to them.

Protocol (every server message is `{"seq": n, "topic": ..., "data": {...}}`, `seq` counting
from 1 on each connection, including the `subscribed` and `error` answers):

- auth: `?token=<access token>`, or a first message `{"op": "auth", "token": ...}` within
  `ws_auth_timeout_seconds`; a bad, expired or revoked token, or none in time, closes 1008.
  The connection also closes 1008 when its token expires. One client address may have
  `ws_max_pending_per_client` connections awaiting authentication at once; more close 1008.
- `{"op": "subscribe" | "unsubscribe", "topics": ["tick:IF2412.CFFEX", ...]}` is answered
  `subscribed` / `unsubscribed` with the topics it changed. Unknown symbols or topics get an
  `error` message (`unknown_topic`) and the rest of the request still applies; so do
  malformed JSON (`invalid_json`) and messages of the wrong shape (`invalid_message`).
  `order`, `trade`, `strategy` and `optimization` need no subscription: a user always gets
  their own. `position` and `account` (the user's own, refreshed after fills and on
  mark-to-market) are sent to connections that subscribe to them.
- A client whose send queue overflows is closed 1013 (try again later); the hub's stop
  closes every client 1001 (going away).
- When a user's access changes (logout, a replayed refresh token, a new password,
  deactivation), every replica checks that user's connections again: one whose token no
  longer passes is closed 1008.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import structlog

from backend.core.errors import RedFireError
from backend.core.monitoring.metrics import WS_CONNECTIONS, WS_REFUSED_PENDING
from backend.core.security.revocation import invalidated_user
from backend.services.stream.admission import PendingConnections
from backend.services.stream.bus import StreamEvent
from backend.services.stream.connection import (
    GOING_AWAY,
    INTERNAL_ERROR,
    POLICY_VIOLATION,
    ClientConnection,
    Socket,
    encode,
)
from backend.services.stream.protocol import ClientRequests
from backend.services.stream.ticks import RecentTicks

logger = structlog.get_logger(__name__)
CLOSE_TIMEOUT = 2.0
STOP_GRACE = 5.0
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a token stands for, and until when."""

    user_id: int
    expires_at: datetime | None = None


Authenticator = Callable[[str], Awaitable[Identity]]
SymbolCheck = Callable[[str], bool]
# Told of a connection whose portfolio topics changed, or that closed (none left then).
PortfolioListener = Callable[[ClientConnection], None]


class StreamHub:
    """Live connections by user and by subscribed symbol; `dispatch` is the bus listener."""

    def __init__(
        self,
        *,
        is_listed: SymbolCheck,
        queue_size: int = 1024,
        auth_timeout: float = 5.0,
        max_pending_per_client: int = 8,
    ) -> None:
        self.queue_size = queue_size
        self.auth_timeout = auth_timeout
        self.pending = PendingConnections(max_pending_per_client)
        self._requests = ClientRequests(is_listed)
        self._connections: set[ClientConnection] = set()
        self._by_user: dict[int, set[ClientConnection]] = {}
        self._by_symbol: dict[str, set[ClientConnection]] = {}
        self._stopping = False
        self._ticks = RecentTicks()
        self.portfolio_listener: PortfolioListener | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def connection_count(self) -> int:
        """Open connections, authenticated or not yet."""
        return len(self._connections)

    def dispatch(self, event: StreamEvent) -> None:
        """Queue `event` for the clients that may see it (never blocks)."""
        if event.topic == "tick":
            targets = self._by_symbol.get(event.symbol or "")
        else:
            targets = self._by_user.get(event.user_id) if event.user_id is not None else None
        if not targets:
            return
        payload = encode(event.data)
        if event.topic == "tick" and self._ticks.seen(event.symbol or "", payload):
            return
        for connection in tuple(targets):
            connection.enqueue(event.topic, payload)

    async def serve(
        self,
        socket: Socket,
        *,
        token: str | None,
        authenticate: Authenticator,
        client: str = "unknown",
    ) -> None:
        """Run one accepted WebSocket of address `client` until it closes."""
        connection = ClientConnection(socket, self.queue_size)
        self._connections.add(connection)
        self._idle.clear()
        WS_CONNECTIONS.inc()
        try:
            if self._stopping:
                connection.request_close(GOING_AWAY)
            elif not self.pending.claim(client):
                WS_REFUSED_PENDING.inc()
                connection.request_close(POLICY_VIOLATION)
            else:
                connection.pending_client = client
                await self._run(connection, token, authenticate)
            code = await connection.closed
        finally:
            await connection.stop_tasks()
            self._no_longer_pending(connection)
            self._forget(connection)
            WS_CONNECTIONS.dec()
        if code is not None:
            await _close(socket, code)

    async def stop(self) -> None:
        """Close every client 1001 and wait (a few seconds at most) for their handlers to end."""
        self._stopping = True
        connections = tuple(self._connections)
        for connection in connections:
            connection.request_close(GOING_AWAY)
        try:
            async with asyncio.timeout(STOP_GRACE):
                await self._idle.wait()
        except TimeoutError:
            logger.warning("ws_handlers_still_running", connections=len(self._connections))
            for connection in tuple(self._connections):
                await connection.stop_tasks()

    async def _run(
        self, connection: ClientConnection, token: str | None, authenticate: Authenticator
    ) -> None:
        auth = asyncio.create_task(self._authenticate(connection, token, authenticate))
        connection.tasks.append(auth)
        waiters: set[asyncio.Future[Any]] = {auth, connection.closed}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if connection.closing:  # refused, or the hub is stopping
            return
        identity = auth.result()
        assert identity is not None
        self._no_longer_pending(connection)
        self._admit(connection, identity)
        for run in (connection.write_forever(), self._read_forever(connection)):
            task = asyncio.create_task(run)
            # A writer that cannot send or a reader that saw the client leave ends it all.
            task.add_done_callback(lambda _: connection.request_close(None))
            connection.tasks.append(task)

    async def _authenticate(
        self, connection: ClientConnection, token: str | None, authenticate: Authenticator
    ) -> Identity | None:
        if token is None:
            try:
                async with asyncio.timeout(self.auth_timeout):
                    token = await self._requests.read_auth(connection.socket)
            except TimeoutError:
                token = None
            if token is None:
                connection.request_close(POLICY_VIOLATION)
                return None
        try:
            identity = await authenticate(token)
        except RedFireError as exc:
            logger.info("ws_auth_failed", reason=exc.code)
            connection.request_close(POLICY_VIOLATION)
        except Exception:  # the database is down, say: not the client's fault
            logger.exception("ws_auth_error")
            connection.request_close(INTERNAL_ERROR)
        else:
            connection.reauthenticate = functools.partial(authenticate, token)
            return identity
        return None

    def on_invalidated(self, key: str) -> None:
        """Invalidation listener: check the tokens of the user's connections again."""
        user_id = invalidated_user(key)
        if user_id is None:
            return
        for connection in tuple(self._by_user.get(user_id, ())):
            # Among the connection's tasks: cancelled if it closes first.
            connection.tasks.append(asyncio.create_task(self._recheck(connection)))

    @staticmethod
    async def _recheck(connection: ClientConnection) -> None:
        if connection.reauthenticate is None or connection.closing:
            return
        try:
            await connection.reauthenticate()
        except RedFireError as exc:
            logger.info("ws_token_no_longer_valid", reason=exc.code)
            connection.request_close(POLICY_VIOLATION)
        except Exception:  # cannot check now (the database is down): keep streaming
            logger.exception("ws_recheck_error")

    def _no_longer_pending(self, connection: ClientConnection) -> None:
        """No longer pending: authenticated, or closed before it was."""
        if connection.pending_client is not None:
            self.pending.release(connection.pending_client)
            connection.pending_client = None

    def _admit(self, connection: ClientConnection, identity: Identity) -> None:
        connection.user_id = identity.user_id
        self._by_user.setdefault(identity.user_id, set()).add(connection)
        if identity.expires_at is not None:
            loop = asyncio.get_running_loop()
            remaining = identity.expires_at.timestamp() - time.time()
            connection.expiry = loop.call_later(
                max(remaining, 0), connection.request_close, POLICY_VIOLATION
            )

    async def _read_forever(self, connection: ClientConnection) -> None:
        while True:
            message = await connection.socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            change = self._requests.handle(connection, message)
            if change is not None:
                self._apply(connection, *change)

    def _apply(
        self,
        connection: ClientConnection,
        subscribe: bool,
        symbols: list[str],
        portfolio: list[str],
    ) -> None:
        if portfolio:
            change = (
                connection.portfolio.update if subscribe else connection.portfolio.difference_update
            )
            change(portfolio)
            if self.portfolio_listener is not None:
                self.portfolio_listener(connection)
        for symbol in symbols:
            if subscribe:
                connection.symbols.add(symbol)
                self._by_symbol.setdefault(symbol, set()).add(connection)
            else:
                connection.symbols.discard(symbol)
                _discard(self._by_symbol, symbol, connection)

    def _forget(self, connection: ClientConnection) -> None:
        self._connections.discard(connection)
        if not self._connections:
            self._idle.set()
        if connection.user_id is not None:
            _discard(self._by_user, connection.user_id, connection)
        for symbol in connection.symbols:
            _discard(self._by_symbol, symbol, connection)
        if connection.portfolio and self.portfolio_listener is not None:
            connection.portfolio.clear()
            self.portfolio_listener(connection)


def _discard(index: dict[K, set[ClientConnection]], key: K, item: ClientConnection) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(item)
        if not members:
            del index[key]


async def _close(socket: Socket, code: int) -> None:
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await socket.close(code)
    except Exception:  # the client may already be gone; nothing left to tell it
        logger.debug("ws_close_failed", code=code)
