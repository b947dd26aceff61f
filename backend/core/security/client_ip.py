"""The client's address: X-Forwarded-For is believed only when sent by a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


class ClientIPResolver:
    """Resolve the client address from the peer and the forwarded headers."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._networks: list[IPNetwork] = [
            ipaddress.ip_network(entry.strip(), strict=False) for entry in trusted_proxies
        ]

    def is_trusted(self, address: str) -> bool:
        """True if `address` is one of the configured proxies."""
        ip = _parse_ip(address)
        return ip is not None and any(ip in network for network in self._networks)

    def resolve(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client address.

        Walks X-Forwarded-For from the right (the hop our proxy appended) and stops at the
        first address that is not a trusted proxy: anything left of it is client-supplied.
        """
        peer = peer or "unknown"
        if not forwarded_for or not self.is_trusted(peer):
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")):
            ip = _parse_ip(hop)
            if ip is None:
                break
            client = str(ip)
            if not self.is_trusted(client):
                break
        return client
