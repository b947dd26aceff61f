"""Names shared by revocation and its readers: cache keys and the per-user invalidation."""

from __future__ import annotations

# Present while the shared cache holds every live revocation of the database (see
# services/auth/revocations.py); missing after Redis restarted empty or while it is unreachable.
MIRRORED_KEY = "revoked:mirrored"


def session_key(session_id: str) -> str:
    """The cache key that marks a session revoked."""
    return f"revoked:sid:{session_id}"


def user_invalidation(user_id: int) -> str:
    """The invalidation that drops what any replica remembers of a user's access."""
    return f"user:{user_id}"


def invalidated_user(key: str) -> int | None:
    """The user an invalidation is about, or None for any other key."""
    kind, _, user_id = key.partition(":")
    return int(user_id) if kind == "user" and user_id.isdigit() else None
