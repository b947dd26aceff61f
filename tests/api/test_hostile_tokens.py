"""Tokens in every malformed shape: 401 with `WWW-Authenticate: Bearer`, the error shape, no
rows stored."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from backend.app.container import AppContainer
from backend.core.security.tokens import TokenCodec
from tests.api.conftest import Account, MakeAccount
from tests.api.contract import assert_error_response, row_counts
from tests.conftest import TEST_SECRET

ORDER = {"symbol": "IF2412.CFFEX", "side": "BUY", "order_type": "market", "quantity": 1}


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(account: Account, **changes: object) -> dict[str, object]:
    real = jwt.decode(account.access_token, options={"verify_signature": False})
    return {**real, **changes}


def _signed(account: Account, key: str = TEST_SECRET, **changes: object) -> str:
    return jwt.encode(_claims(account, **changes), key, algorithm="HS256")


def _expired(container: AppContainer, account: Account) -> str:
    an_hour_ago = datetime.now(UTC) - timedelta(days=30)
    codec = TokenCodec(container.config.security, TEST_SECRET, clock=lambda: an_hour_ago)
    return codec.issue(user_id=account.id, version=0).access_token


Header = Callable[[Account, AppContainer], list[tuple[str, str | bytes]]]


def bearer(token: Callable[[Account, AppContainer], str]) -> Header:
    """`Authorization: Bearer <token>`."""
    return lambda account, container: [("Authorization", f"Bearer {token(account, container)}")]


def raw(value: str) -> Header:
    """`Authorization: <value>` exactly."""
    return lambda account, container: [("Authorization", value)]


MALFORMED: dict[str, Header] = {
    "no header": lambda account, container: [],
    "empty header": raw(""),
    "scheme only": raw("Bearer"),
    "scheme and a space": raw("Bearer "),
    "Basic credentials": raw("Basic " + base64.b64encode(b"trader1:secret").decode()),
    "Digest credentials": raw('Digest username="trader1", response="x"'),
    "garbage": bearer(lambda a, c: "not-a-token"),
    "three empty segments": bearer(lambda a, c: ".."),
    "non-ASCII garbage": lambda a, c: [("Authorization", b"Bearer \xff\xfe")],
    "two tokens in one header": raw("Bearer a.b.c d.e.f"),
    "two schemes in one header": lambda a, c: [
        ("Authorization", f"Bearer {a.access_token}, Basic x")
    ],
    "token without a scheme": lambda a, c: [("Authorization", a.access_token)],
    "token in a second Authorization header": lambda a, c: [
        ("Authorization", "Bearer garbage"),
        ("Authorization", f"Bearer {a.access_token}"),
    ],
    "alg none": bearer(lambda a, c: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(a))}."),
    "alg none with the real signature": bearer(
        lambda a, c: ".".join([_b64({"alg": "none"}), *a.access_token.split(".")[1:]])
    ),
    "signed with another key": bearer(lambda a, c: _signed(a, key="another-key-" + "x" * 40)),
    "HS512 with the right key": bearer(
        lambda a, c: jwt.encode(_claims(a), TEST_SECRET, algorithm="HS512")
    ),
    "payload swapped under a valid signature": bearer(
        lambda a, c: ".".join(
            [a.access_token.split(".")[0], _b64(_claims(a, sub="1")), a.access_token.split(".")[2]]
        )
    ),
    "expired": bearer(lambda a, c: _expired(c, a)),
    "refresh token as access": bearer(lambda a, c: a.refresh_token),
    "unknown user": bearer(lambda a, c: _signed(a, sub="999999")),
    "user id over INTEGER": bearer(lambda a, c: _signed(a, sub=str(2**31))),
    "user id over BIGINT": bearer(lambda a, c: _signed(a, sub="9" * 40)),
    "non-numeric subject": bearer(lambda a, c: _signed(a, sub="admin")),
    "stale token version": bearer(lambda a, c: _signed(a, ver=99)),
    "string token version": bearer(lambda a, c: _signed(a, ver="0")),
    "missing session id": bearer(lambda a, c: _signed(a, sid=None)),
    "unknown token type": bearer(lambda a, c: _signed(a, type="admin")),
    "8 KB token": bearer(lambda a, c: "a" * 8192),
    "API key: garbage": lambda a, c: [("X-API-Key", "garbage")],
    "API key: empty": lambda a, c: [("X-API-Key", "")],
    "API key: non-ASCII": lambda a, c: [("X-API-Key", b"rfk_\xff\xfe")],
    "API key: 8 KB": lambda a, c: [("X-API-Key", "rfk_" + "a" * 8192)],
    "API key: SQL as its prefix": lambda a, c: [("X-API-Key", "rfk_' OR 1=1 --_" + "a" * 43)],
    "API key: unknown prefix": lambda a, c: [("X-API-Key", "rfk_0123456789abcdef_" + "a" * 43)],
    "API key: as a bearer token": raw("Bearer rfk_0123456789abcdef_" + "a" * 43),
    "API key beside a valid token": lambda a, c: [
        ("Authorization", f"Bearer {a.access_token}"),
        ("X-API-Key", "rfk_0123456789abcdef_" + "a" * 43),
    ],
}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512 shape
@pytest.mark.parametrize("shape", list(MALFORMED))
async def test_malformed_token_is_401(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount, shape: str
) -> None:
    trader = await make_account()
    headers = MALFORMED[shape](trader, container)
    before = await row_counts(container)
    response = await client.post("/api/v1/orders", json=ORDER, headers=headers)
    assert_error_response(response, 401)
    assert await row_counts(container) == before


async def test_access_token_is_not_a_refresh_token(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    response = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": trader.access_token}
    )
    assert assert_error_response(response, 401)["error"] == "invalid_token"
