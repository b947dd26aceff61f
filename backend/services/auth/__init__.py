"""Authentication: login, token refresh and revocation."""

from backend.services.auth.service import AuthService

__all__ = ["AuthService"]
