"""TokenCodec: what it issues, and every way a token is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from backend.core.config.settings import SecurityConfig
from backend.core.errors import AuthenticationError
from backend.core.security.tokens import TokenCodec, TokenType

SECRET = "unit-test-secret-key-long-enough-for-hs256-0123"


def codec(now: datetime | None = None) -> TokenCodec:
    config = SecurityConfig(access_token_expire_minutes=15, refresh_token_expire_days=2)
    if now is None:
        return TokenCodec(config, SECRET)
    return TokenCodec(config, SECRET, clock=lambda: now)


def test_issued_pair_carries_the_required_claims() -> None:
    issued = codec().issue(user_id=7, version=3)
    access = jwt.decode(issued.access_token, SECRET, algorithms=["HS256"])
    refresh = jwt.decode(issued.refresh_token, SECRET, algorithms=["HS256"])
    assert jwt.get_unverified_header(issued.access_token)["alg"] == "HS256"
    assert {"sub", "exp", "iat", "jti", "type", "sid", "ver"} <= access.keys()
    assert (access["sub"], access["type"], access["ver"]) == ("7", "access", 3)
    assert refresh["type"] == "refresh"
    assert access["sid"] == refresh["sid"]
    assert access["jti"] != refresh["jti"]
    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 2 * 86400
    assert issued.expires_in == 15 * 60


def test_decode_round_trips() -> None:
    issued = codec().issue(user_id=7, version=3, session_id="s1")
    claims = codec().decode(issued.access_token, TokenType.ACCESS)
    assert (claims.user_id, claims.version, claims.session_id) == (7, 3, "s1")
    assert claims.expires_at.tzinfo is UTC


def test_expired_token_is_refused_with_its_own_code() -> None:
    old = codec(datetime.now(UTC) - timedelta(minutes=16)).issue(user_id=1, version=0)
    with pytest.raises(AuthenticationError) as caught:
        codec().decode(old.access_token, TokenType.ACCESS)
    assert caught.value.code == "token_expired"
    assert caught.value.status_code == 401
    assert caught.value.headers == {"WWW-Authenticate": "Bearer"}


def test_token_from_the_future_is_refused() -> None:
    future = codec(datetime.now(UTC) + timedelta(minutes=5)).issue(user_id=1, version=0)
    with pytest.raises(AuthenticationError) as caught:
        codec().decode(future.access_token, TokenType.ACCESS)
    assert caught.value.code == "invalid_token"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b.c",
        jwt.encode({"sub": "1"}, SECRET, "HS256"),
        jwt.encode({"sub": "1", "type": "access"}, "x" * 40, "HS256"),
    ],
)
def test_garbage_is_invalid(token: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        codec().decode(token, TokenType.ACCESS)
    assert caught.value.code == "invalid_token"


def test_wrong_type_is_refused_both_ways() -> None:
    issued = codec().issue(user_id=1, version=0)
    with pytest.raises(AuthenticationError):
        codec().decode(issued.refresh_token, TokenType.ACCESS)
    with pytest.raises(AuthenticationError):
        codec().decode(issued.access_token, TokenType.REFRESH)


def test_unsigned_token_is_refused() -> None:
    payload = jwt.decode(
        codec().issue(user_id=1, version=0).access_token, options={"verify_signature": False}
    )
    unsigned = jwt.encode(payload, key=None, algorithm="none")
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"
    with pytest.raises(AuthenticationError) as caught:
        codec().decode(unsigned, TokenType.ACCESS)
    assert caught.value.code == "invalid_token"


def test_a_verified_token_still_expires_and_keeps_its_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Verified tokens are remembered; each use still checks expiry and type."""
    decoder = codec()
    issued = codec().issue(user_id=7, version=3)
    first = decoder.decode(issued.access_token, TokenType.ACCESS)
    assert decoder.decode(issued.access_token, TokenType.ACCESS) == first
    with pytest.raises(AuthenticationError) as wrong_type:
        decoder.decode(issued.access_token, TokenType.REFRESH)
    assert wrong_type.value.code == "invalid_token"

    later = first.expires_at + timedelta(seconds=3)
    monkeypatch.setattr("backend.core.security.tokens._utcnow", lambda: later)
    with pytest.raises(AuthenticationError) as expired:
        decoder.decode(issued.access_token, TokenType.ACCESS)
    assert expired.value.code == "token_expired"
