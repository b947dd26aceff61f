"""JWT access and refresh tokens (PyJWT, HS256 only)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from backend.core.config.settings import SecurityConfig
from backend.core.errors import AuthenticationError

# Fixed: a token never chooses how it is verified (no "none", no RS/HS confusion).
ALGORITHMS = ["HS256"]
REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti", "type", "sid", "ver"]
# users.id is an INTEGER column.
USER_ID_MAX = 2**31 - 1
# Tolerated clock difference between replicas, in seconds.
LEEWAY_SECONDS = 2
VERIFIED_CACHE_SIZE = 4096


class TokenType(StrEnum):
    """What a token may be used for."""

    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The verified content of a token."""

    user_id: int
    token_type: TokenType
    jti: str
    session_id: str
    version: int
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """An access and refresh token of one session."""

    access_token: str
    refresh_token: str
    expires_in: int
    access: TokenClaims
    refresh: TokenClaims


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TokenCodec:
    """Issue and verify tokens; `clock` is replaceable so tests can mint expired ones."""

    def __init__(
        self, config: SecurityConfig, secret: str, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._secret = secret
        self._clock = clock
        # Tokens already verified, by their exact text: a client presents the same access
        # token for its whole life, and a signature check per request is the costly part.
        # Expiry and type are still checked on every use.
        self._verified: OrderedDict[str, TokenClaims] = OrderedDict()
        self.access_lifetime = timedelta(minutes=config.access_token_expire_minutes)
        self.refresh_lifetime = timedelta(days=config.refresh_token_expire_days)
        self.refresh_retry_grace = timedelta(seconds=config.refresh_retry_grace_seconds)

    def now(self) -> datetime:
        """The issue time of a pair made now (tokens count whole seconds)."""
        return self._clock().replace(microsecond=0)

    def issue(
        self,
        *,
        user_id: int,
        version: int,
        session_id: str | None = None,
        replacing: TokenClaims | None = None,
        issued_at: datetime | None = None,
    ) -> IssuedTokens:
        """A new access/refresh pair; both carry the same session id (`sid`).

        The pair that replaces a refresh token (`replacing`, at `issued_at`) takes token ids
        derived from that token's: issued again for a retry of the same exchange, it comes
        out the same, so a retry neither forks the session nor needs the pair stored.
        """
        session_id = session_id or uuid.uuid4().hex
        now = issued_at or self.now()
        access = self._claims(TokenType.ACCESS, user_id, version, session_id, now, replacing)
        refresh = self._claims(TokenType.REFRESH, user_id, version, session_id, now, replacing)
        return IssuedTokens(
            access_token=self._encode(access),
            refresh_token=self._encode(refresh),
            expires_in=int(self.access_lifetime.total_seconds()),
            access=access,
            refresh=refresh,
        )

    def _claims(
        self,
        kind: TokenType,
        user_id: int,
        version: int,
        session_id: str,
        now: datetime,
        replacing: TokenClaims | None,
    ) -> TokenClaims:
        lifetime = self.access_lifetime if kind is TokenType.ACCESS else self.refresh_lifetime
        if replacing is None:
            jti = uuid.uuid4().hex
        else:
            message = f"redfire-jti:{replacing.jti}:{kind.value}".encode()
            jti = hmac.new(self._secret.encode(), message, hashlib.sha256).hexdigest()[:32]
        return TokenClaims(
            user_id=user_id,
            token_type=kind,
            jti=jti,
            session_id=session_id,
            version=version,
            issued_at=now,
            expires_at=now + lifetime,
        )

    def _encode(self, claims: TokenClaims) -> str:
        payload = {
            "sub": str(claims.user_id),
            "type": claims.token_type.value,
            "jti": claims.jti,
            "sid": claims.session_id,
            "ver": claims.version,
            "iat": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHMS[0])

    def decode(self, token: str, expected: TokenType) -> TokenClaims:
        """Verify signature, expiry and type; raise AuthenticationError otherwise."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
            self._verified[token] = claims
        elif claims.expires_at + timedelta(seconds=LEEWAY_SECONDS) <= _utcnow():  # as PyJWT
            del self._verified[token]
            raise AuthenticationError("the token has expired", code="token_expired")
        if claims.token_type is not expected:
            article = "an" if expected is TokenType.ACCESS else "a"
            raise AuthenticationError(
                f"{article} {expected.value} token is required", code="invalid_token"
            )
        return claims

    def _verify(self, token: str) -> TokenClaims:
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=ALGORITHMS,
                options={"require": REQUIRED_CLAIMS},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the token has expired", code="token_expired") from None
        except jwt.PyJWTError:
            raise AuthenticationError("the token is invalid", code="invalid_token") from None
        return _parse_claims(payload)


def _parse_claims(payload: dict[str, Any]) -> TokenClaims:
    try:
        user_id = int(payload["sub"])
        version = payload["ver"]
        jti, session_id = payload["jti"], payload["sid"]
        if not (isinstance(version, int) and isinstance(jti, str) and isinstance(session_id, str)):
            raise TypeError("claim type")
        if not 0 < user_id <= USER_ID_MAX:
            raise ValueError("user id out of range")  # the database would refuse it: a 500
        return TokenClaims(
            user_id=user_id,
            token_type=TokenType(payload["type"]),
            jti=jti,
            session_id=session_id,
            version=version,
            issued_at=datetime.fromtimestamp(payload["iat"], UTC),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        raise AuthenticationError("the token is invalid", code="invalid_token") from None
