"""AuthService: passwords in, tokens out; tokens back in, a user out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import AuthenticationError, InvalidCredentialsError, PermissionDeniedError
from backend.core.security import SecurityComponents
from backend.core.security.passwords import PASSWORD_MAX_LENGTH
from backend.core.security.tokens import IssuedTokens, TokenClaims, TokenType
from backend.models.user import User
from backend.services.auth.revocations import RevocationStore, session_revoked
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


def client_digest(client_ip: str) -> str:
    """What is stored of a client's address: enough to recognise a retry, not the address."""
    return hashlib.sha256(client_ip.encode()).hexdigest()[:32]


class AuthService:
    """Login, refresh, logout and the per-request token check."""

    def __init__(self, security: SecurityComponents, revocations: RevocationStore) -> None:
        self.security = security
        self.revocations = revocations

    async def login(
        self, session: AsyncSession, *, username: str, password: str, client_ip: str
    ) -> IssuedTokens:
        """Check the password (rate limited per address, and per username and address) and
        open a session."""
        await self.security.login_ip_limiter.hit(client_ip)
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
        if await self.revocations.is_revoked(session, claims):
            raise _revoked()
        return await self._user_of(session, claims), claims

    async def _user_of(self, session: AsyncSession, claims: TokenClaims) -> User:
        user = await UserRepository(session).get_by_id(claims.user_id)
        if user is None or not user.is_active or user.token_version != claims.version:
            raise _revoked("the token is no longer valid")
        return user

    async def refresh(
        self, session: AsyncSession, *, refresh_token: str, client_ip: str
    ) -> IssuedTokens:
        """Exchange a refresh token, once, for a new pair of the same session.

        The same token presented again from the same address within the grace window is a
        retry of that exchange and gets the same pair back; presented again otherwise, it
        leaked, and the whole session is revoked. Both are decided by the database.
        """
        tokens = self.security.tokens
        claims = tokens.decode(refresh_token, TokenType.REFRESH)
        user = await self._user_of(session, claims)
        if await session_revoked(session, claims.session_id):
            raise _revoked()
        client, now = client_digest(client_ip), tokens.now()
        spent = await self.revocations.spend_refresh_token(
            session, claims, client=client, used_at=now
        )
        issued_at = now
        if spent is not None:
            retry = spent.client == client and now - spent.used_at <= tokens.refresh_retry_grace
            if not retry:
                await self.revocations.revoke_session(session, claims)
                logger.warning("refresh_token_reused", user_id=claims.user_id)
                raise _revoked()
            logger.info("refresh_retried", user_id=claims.user_id)
            issued_at = spent.used_at
        return tokens.issue(
            user_id=user.id,
            version=user.token_version,
            session_id=claims.session_id,
            replacing=claims,
            issued_at=issued_at,
        )

    async def logout(self, session: AsyncSession, *, claims: TokenClaims) -> None:
        """Revoke every token of this session (committed before it returns)."""
        await self.revocations.revoke_session(session, claims)
        logger.info("logged_out", user_id=claims.user_id)
