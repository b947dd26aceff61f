"""Every kind of bad token gets 401 with `WWW-Authenticate: Bearer`."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from backend.app.container import AppContainer
from backend.core.security.tokens import TokenCodec
from tests.api.conftest import Account, MakeAccount
from tests.conftest import TEST_SECRET

ME = "/api/v1/users/me"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(account: Account) -> dict[str, object]:
    return jwt.decode(account.access_token, options={"verify_signature": False})


def alg_none(account: Account, _: AppContainer) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(account))}."


def wrong_key(account: Account, _: AppContainer) -> str:
    return jwt.encode(_claims(account), "another-secret-key-of-sufficient-length-0000", "HS256")


def other_algorithm(account: Account, _: AppContainer) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(_claims(account), TEST_SECRET, "HS512")


def refresh_as_access(account: Account, _: AppContainer) -> str:
    return account.refresh_token


def expired(account: Account, container: AppContainer) -> str:
    past = datetime.now(UTC) - timedelta(hours=2)
    codec = TokenCodec(container.config.security, TEST_SECRET, clock=lambda: past)
    return codec.issue(user_id=account.id, version=0).access_token


def missing_jti(account: Account, _: AppContainer) -> str:
    claims = _claims(account)
    del claims["jti"]
    return jwt.encode(claims, TEST_SECRET, "HS256")


def non_numeric_subject(account: Account, _: AppContainer) -> str:
    return jwt.encode({**_claims(account), "sub": "admin"}, TEST_SECRET, "HS256")


def unknown_user(account: Account, _: AppContainer) -> str:
    return jwt.encode({**_claims(account), "sub": str(account.id + 999)}, TEST_SECRET, "HS256")


def tampered(account: Account, _: AppContainer) -> str:
    header, _payload, signature = account.access_token.split(".")
    return f"{header}.{_b64({**_claims(account), 'sub': '1'})}.{signature}"


def malformed(_: Account, __: AppContainer) -> str:
    return "not.a.jwt"


BAD_TOKENS: dict[str, tuple[Callable[[Account, AppContainer], str], str]] = {
    "alg-none": (alg_none, "invalid_token"),
    "wrong-key": (wrong_key, "invalid_token"),
    "hs512": (other_algorithm, "invalid_token"),
    "refresh-as-access": (refresh_as_access, "invalid_token"),
    "expired": (expired, "token_expired"),
    "missing-jti": (missing_jti, "invalid_token"),
    "non-numeric-sub": (non_numeric_subject, "invalid_token"),
    "unknown-user": (unknown_user, "token_revoked"),
    "tampered": (tampered, "invalid_token"),
    "malformed": (malformed, "invalid_token"),
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_bad_tokens_are_401(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount, kind: str
) -> None:
    account = await make_account()
    build, code = BAD_TOKENS[kind]
    response = await client.get(
        ME, headers={"Authorization": f"Bearer {build(account, container)}"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == code
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get(ME, headers=account.headers)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}],
    ids=["none", "basic", "empty-bearer"],
)
async def test_missing_token_is_401_not_authenticated(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get(ME, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["request_id"] == response.headers["x-request-id"]
