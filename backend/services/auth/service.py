"""AuthService: passwords in, tokens out; tokens back in, a user out."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import AuthenticationError, InvalidCredentialsError, PermissionDeniedError
from backend.core.security import SecurityComponents
from backend.core.security.passwords import PASSWORD_MAX_LENGTH
from backend.core.security.tokens import IssuedTokens, TokenClaims, TokenType
from backend.models.user import User
from backend.services.users.repository import UserRepository, release_connection

logger = structlog.get_logger(__name__)

USERNAME_MAX_LENGTH = 50


def _revoked(detail: str = "the token has been revoked") -> AuthenticationError:
    return AuthenticationError(detail, code="token_revoked")


@dataclass(frozen=True, slots=True)
class _Credentials:
    """What login needs of a user, read before the transaction ends."""

    id: int
    hashed_password: str
    is_active: bool
    token_version: int

    @classmethod
    def of(cls, user: User) -> _Credentials:
        return cls(user.id, user.hashed_password, user.is_active, user.token_version)


class AuthService:
    """Login, refresh, logout and the per-request token check."""

    def __init__(self, security: SecurityComponents) -> None:
        self.security = security

    async def login(
        self, session: AsyncSession, *, username: str, password: str, client_ip: str
    ) -> IssuedTokens:
        """Check the password (rate limited per username and address) and open a session."""
        limiter = self.security.login_limiter
        await limiter.hit(username.lower(), client_ip)
        user = await self._check_password(session, username=username, password=password)
        if not user.is_active:
            logger.info("login_failed", reason="inactive", user_id=user.id, client_ip=client_ip)
            raise InvalidCredentialsError
        await limiter.reset(username.lower(), client_ip)
        logger.info("login_succeeded", user_id=user.id, client_ip=client_ip)
        return self.security.tokens.issue(user_id=user.id, version=user.token_version)

    async def _check_password(
        self, session: AsyncSession, *, username: str, password: str
    ) -> _Credentials:
        passwords = self.security.passwords
        user = None
        # No account has a longer name or a NUL (PostgreSQL refuses NUL in text: a 500).
        if len(username) <= USERNAME_MAX_LENGTH and "\x00" not in username:
            user = await UserRepository(session).get_by_username(username)
        found = None if user is None else _Credentials.of(user)
        await release_connection(session)
        if found is None or len(password) > PASSWORD_MAX_LENGTH:
            # Same work whether or not the name exists: timing must not reveal accounts.
            await passwords.dummy_verify(password[:PASSWORD_MAX_LENGTH])
            logger.info("login_failed", reason="credentials")
            raise InvalidCredentialsError
        valid, new_hash = await passwords.verify_and_update(password, found.hashed_password)
        if not valid:
            logger.info("login_failed", reason="credentials", user_id=found.id)
            raise InvalidCredentialsError
        if new_hash is not None:  # hashing parameters were raised since this hash was made
            await UserRepository(session).set_password_hash(found.id, new_hash)
        return found

    async def confirm_password(
        self, session: AsyncSession, user: User, *, password: str, client_ip: str
    ) -> None:
        """Require the current password before an account change (counted like a login).

        Ends the request's read transaction: the caller reloads `user` before changing it.
        """
        limiter = self.security.login_limiter
        username, hashed = user.username, user.hashed_password
        await limiter.hit(username, client_ip)
        await release_connection(session)
        valid = len(password) <= PASSWORD_MAX_LENGTH and await self.security.passwords.verify(
            password, hashed
        )
        if not valid:
            raise PermissionDeniedError(
                "the current password is incorrect", code="invalid_current_password"
            )
        await limiter.reset(username, client_ip)

    async def authenticate(
        self, session: AsyncSession, *, token: str | None
    ) -> tuple[User, TokenClaims]:
        """The active user an access token stands for, and its claims; 401 for anything else."""
        if not token:
            raise AuthenticationError("not authenticated", code="not_authenticated")
        claims = self.security.tokens.decode(token, TokenType.ACCESS)
        if await self.security.revocation.is_revoked(claims):
            raise _revoked()
        return await self._user_of(session, claims), claims

    async def _user_of(self, session: AsyncSession, claims: TokenClaims) -> User:
        user = await UserRepository(session).get_by_id(claims.user_id)
        if user is None or not user.is_active or user.token_version != claims.version:
            raise _revoked("the token is no longer valid")
        return user

    async def refresh(self, session: AsyncSession, *, refresh_token: str) -> IssuedTokens:
        """Exchange a refresh token, once, for a new pair of the same session.

        A refresh token presented twice means it leaked: the whole session is revoked.
        """
        claims = self.security.tokens.decode(refresh_token, TokenType.REFRESH)
        revocation = self.security.revocation
        if await revocation.is_revoked(claims):
            await revocation.revoke_session(claims)
            logger.warning("refresh_token_reused", user_id=claims.user_id)
            raise _revoked()
        user = await self._user_of(session, claims)
        if not await revocation.consume(claims):
            await revocation.revoke_session(claims)
            logger.warning("refresh_token_reused", user_id=claims.user_id)
            raise _revoked()
        return self.security.tokens.issue(
            user_id=user.id, version=user.token_version, session_id=claims.session_id
        )

    async def logout(self, *, claims: TokenClaims) -> None:
        """Revoke this access token and every token of its session."""
        await self.security.revocation.revoke_token(claims)
        await self.security.revocation.revoke_session(claims)
        logger.info("logged_out", user_id=claims.user_id)
