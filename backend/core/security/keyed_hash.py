"""API keys and webhook secrets: random, high-entropy, stored only as keyed digests.

A fast keyed hash (HMAC-SHA256 with a server pepper) suits secrets of 256 random bits: no
guess can be sped up by a slow hash, and a stolen table without the pepper proves nothing.
Every comparison is timing-safe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

API_KEY_PREFIX = "rfk"
PUBLIC_ID_BYTES = 8  # 16 hex characters: finds the row, proves nothing
SECRET_BYTES = 32
MAX_API_KEY_LENGTH = 128


def derive_pepper(secret_key: str) -> bytes:
    """The pepper used when none is configured: derived from (not equal to) SECRET_KEY."""
    return hmac.new(secret_key.encode(), b"redfire-api-key-pepper", hashlib.sha256).digest()


class SecretDigester:
    """HMAC-SHA256 digests of secrets under the server's pepper."""

    def __init__(self, pepper: bytes) -> None:
        self._pepper = pepper
        # Compared against when no row matches, so a miss costs what a wrong secret costs.
        self._dummy = self.digest(secrets.token_urlsafe(SECRET_BYTES))

    def digest(self, secret: str) -> str:
        """The stored form of `secret` (64 hex characters)."""
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    def matches(self, secret: str, stored: str | None) -> bool:
        """True if `secret` digests to `stored`; a missing row costs the same time."""
        expected = stored if stored is not None else self._dummy
        equal = hmac.compare_digest(self.digest(secret), expected)
        return equal and stored is not None

    def derive_secret(self, label: str) -> str:
        """A secret only this server can recompute (a webhook's, from its id and salt)."""
        digest = hmac.new(self._pepper, f"redfire-webhook:{label}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def sign(secret: str, body: bytes) -> str:
    """HMAC-SHA256 of `body` keyed with `secret`, hex (a webhook delivery's signature)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def same_text(given: str, expected: str) -> bool:
    """Timing-safe equality of two texts (non-ASCII input never equals, never raises)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def new_api_key() -> tuple[str, str, str]:
    """(public id, secret, the key as the user sends it: `rfk_<public id>_<secret>`)."""
    public_id = secrets.token_hex(PUBLIC_ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return public_id, secret, f"{API_KEY_PREFIX}_{public_id}_{secret}"


def parse_api_key(raw: str) -> tuple[str, str] | None:
    """(public id, secret) of a well-formed key, else None."""
    if len(raw) > MAX_API_KEY_LENGTH:
        return None
    prefix, _, rest = raw.partition("_")
    public_id, _, secret = rest.partition("_")
    well_formed = (
        prefix == API_KEY_PREFIX
        and len(public_id) == 2 * PUBLIC_ID_BYTES
        and all(c in "0123456789abcdef" for c in public_id)
        and 20 <= len(secret) <= 64
        and secret.isascii()
    )
    return (public_id, secret) if well_formed else None


def is_api_key(raw: str) -> bool:
    """True if `raw` looks like an API key rather than an access token (WebSocket `token`)."""
    return raw.startswith(f"{API_KEY_PREFIX}_")
