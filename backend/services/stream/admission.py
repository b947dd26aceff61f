"""Connections not yet authenticated, counted per client address and bounded."""

from __future__ import annotations


class PendingConnections:
    """How many connections each client address has open before authentication.

    An unauthenticated connection costs a handler, a socket and a frame buffer for up to the
    auth timeout: one address may hold only `limit` of them at once.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_client: dict[str, int] = {}

    def claim(self, client: str) -> bool:
        """Count one more for `client`; False (nothing counted) when it is at the limit."""
        count = self._by_client.get(client, 0)
        if count >= self.limit:
            return False
        self._by_client[client] = count + 1
        return True

    def release(self, client: str) -> None:
        """One of `client`'s connections authenticated or closed."""
        count = self._by_client.get(client, 0) - 1
        if count > 0:
            self._by_client[client] = count
        else:
            self._by_client.pop(client, None)

    def count(self, client: str) -> int:
        """`client`'s connections awaiting authentication."""
        return self._by_client.get(client, 0)
