"""ClientIPResolver: forwarded headers only from trusted proxies."""

from __future__ import annotations

import pytest

from backend.core.security.client_ip import ClientIPResolver


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        ([], "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        (["10.0.0.0/8"], "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.2", None, "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "198.51.100.1", "198.51.100.1"),
        (["10.0.0.0/8"], "10.0.0.2", "192.0.2.66, 198.51.100.1, 10.9.9.9", "198.51.100.1"),
        (["10.0.0.0/8"], "10.0.0.2", "10.1.1.1, 10.2.2.2", "10.1.1.1"),
        (["10.0.0.0/8"], "10.0.0.2", "garbage, 10.2.2.2", "10.2.2.2"),
        (["10.0.0.1"], "10.0.0.1", " 198.51.100.1 ", "198.51.100.1"),
        (["fd00::/8"], "fd00::1", "2001:db8::5", "2001:db8::5"),
        (["10.0.0.0/8"], None, "198.51.100.1", "unknown"),
    ],
)
def test_resolve(trusted: list[str], peer: str | None, forwarded: str | None, client: str) -> None:
    assert ClientIPResolver(trusted).resolve(peer, forwarded) == client
