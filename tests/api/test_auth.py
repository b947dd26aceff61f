"""Register, login, refresh and logout through the real app."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from backend.app.container import AppContainer
from backend.core.config.settings import SecurityConfig
from backend.core.security.passwords import PasswordHasher
from backend.models.revocation import UsedRefreshToken
from backend.models.user import User
from backend.services.users import UserService
from tests.api.conftest import Account, MakeAccount, login

REGISTER = "/api/v1/auth/register"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/users/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def registration(**overrides: Any) -> dict[str, Any]:
    body = {
        "username": "Alice",
        "email": "Alice@Example.com",
        "password": "s3cret-enough",
        "full_name": "Alice Liddell",
    }
    body.update(overrides)
    return body


async def test_register_login_refresh_logout_cycle(client: httpx.AsyncClient) -> None:
    registered = await client.post(REGISTER, json=registration())
    assert registered.status_code == 201
    user = registered.json()
    assert set(user) == {"id", "username", "email", "full_name", "role", "is_active", "created_at"}
    assert (user["username"], user["email"], user["role"]) == (
        "alice",
        "alice@example.com",
        "trader",
    )
    assert user["is_active"] is True
    assert datetime.fromisoformat(user["created_at"]).utcoffset() == timedelta(0)

    logged_in = await login(client, "alice", "s3cret-enough")
    assert logged_in.status_code == 200
    first = logged_in.json()
    assert first["token_type"] == "bearer"
    assert first["expires_in"] == 30 * 60
    me = await client.get(ME, headers=bearer(first["access_token"]))
    assert me.status_code == 200
    assert me.json() == user

    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get(ME, headers=bearer(second["access_token"]))).status_code == 200

    logged_out = await client.post("/api/v1/auth/logout", headers=bearer(second["access_token"]))
    assert logged_out.status_code == 204
    for token in (first["access_token"], second["access_token"]):
        after = await client.get(ME, headers=bearer(token))
        assert after.status_code == 401
        assert after.json()["error"] == "token_revoked"
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert again.status_code == 401
    assert again.json()["error"] == "token_revoked"


async def test_a_refresh_token_replayed_from_elsewhere_revokes_its_session(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    rotated = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert rotated.status_code == 200
    replayed = await stranger.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "token_revoked"
    assert replayed.headers["www-authenticate"] == "Bearer"
    # A replay means the token leaked: the whole session, including the rotated pair, ends.
    new_pair = rotated.json()
    assert (await client.get(ME, headers=bearer(new_pair["access_token"]))).status_code == 401
    reuse = await client.post(REFRESH, json={"refresh_token": new_pair["refresh_token"]})
    assert reuse.status_code == 401


async def test_a_retried_refresh_gets_the_same_pair_and_keeps_the_session(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    first = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    retry = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == first.json()
    pair = first.json()
    assert (await client.get(ME, headers=bearer(pair["access_token"]))).status_code == 200
    # The pair's refresh token is single-use as any other.
    assert (
        await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    ).status_code == 200


async def test_concurrent_refreshes_of_one_token_all_get_the_winners_pair(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    body = {"refresh_token": account.refresh_token}
    answers = await asyncio.gather(*(client.post(REFRESH, json=body) for _ in range(3)))
    assert [answer.status_code for answer in answers] == [200, 200, 200], answers[0].text
    pairs = {(a.json()["access_token"], a.json()["refresh_token"]) for a in answers}
    assert len(pairs) == 1
    access, refresh = pairs.pop()
    assert (await client.get(ME, headers=bearer(access))).status_code == 200
    assert (await client.post(REFRESH, json={"refresh_token": refresh})).status_code == 200


async def test_a_replay_after_the_grace_window_revokes_the_session(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    account = await make_account()
    rotated = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert rotated.status_code == 200
    # The exchange happened longer ago than the grace window.
    grace = container.config.security.refresh_retry_grace_seconds
    async with container.database.session() as session:
        spent = (await session.scalars(select(UsedRefreshToken))).one()
        spent.used_at -= timedelta(seconds=grace + 1)
    replayed = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "token_revoked"
    new_pair = rotated.json()
    assert (await client.get(ME, headers=bearer(new_pair["access_token"]))).status_code == 401


async def test_a_retry_after_logout_is_refused(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    rotated = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert rotated.status_code == 200
    headers = bearer(rotated.json()["access_token"])
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    retry = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert retry.status_code == 401
    assert retry.json()["error"] == "token_revoked"


async def test_logout_leaves_other_sessions_alone(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    other = (await login(client, account.username, account.password)).json()
    assert (await client.post("/api/v1/auth/logout", headers=account.headers)).status_code == 204
    assert (await client.get(ME, headers=account.headers)).status_code == 401
    assert (await client.get(ME, headers=bearer(other["access_token"]))).status_code == 200


@pytest.mark.parametrize(
    ("second", "code"),
    [
        ({"username": "ALICE", "email": "other@example.com"}, "username_taken"),
        ({"username": "bob", "email": "aLiCe@example.COM"}, "email_taken"),
    ],
)
async def test_duplicates_conflict_whatever_their_case(
    client: httpx.AsyncClient, second: dict[str, str], code: str
) -> None:
    assert (await client.post(REGISTER, json=registration())).status_code == 201
    response = await client.post(REGISTER, json=registration(**second))
    assert response.status_code == 409
    assert response.json()["error"] == code


@pytest.mark.parametrize(
    "overrides",
    [
        {"email": "not-an-email"},
        {"username": "ab"},
        {"username": "a" * 51},
        {"username": "bad name!"},
        {"password": "short7!"},
        {"password": "x" * 129},
        {"full_name": "n" * 101},
        {"role": "admin"},
    ],
    ids=[
        "email",
        "short-name",
        "long-name",
        "name-chars",
        "short-pw",
        "long-pw",
        "full-name",
        "role",
    ],
)
async def test_register_rejects_invalid_input_with_422(
    client: httpx.AsyncClient, overrides: dict[str, str]
) -> None:
    response = await client.post(REGISTER, json=registration(**overrides))
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert "s3cret" not in response.text


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    wrong = await login(client, account.username, "not-the-password")
    unknown = await login(client, "nobody-here", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_credentials"
        assert response.headers["www-authenticate"] == "Bearer"
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_login_ignores_username_case(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account(username="MixedCase")
    assert (await login(client, "MIXEDCASE", account.password)).status_code == 200


async def test_auth_answers_carry_security_headers(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    ok = await login(client, account.username, account.password)
    failed = await login(client, account.username, "wrong-password")
    me = await client.get(ME, headers=account.headers)
    for response in (ok, failed, me):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert "no-store" not in (await client.get("/health/live")).headers.get("cache-control", "")


async def test_refresh_refuses_an_access_token(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account: Account = await make_account()
    response = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.access_token}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.json()["detail"] == "a refresh token is required"
    me = await client.get(ME, headers=bearer(account.refresh_token))
    assert me.json()["detail"] == "an access token is required"


async def test_openapi_declares_the_oauth2_password_flow(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    flows = next(iter(schemes.values()))["flows"]
    assert flows["password"]["tokenUrl"] == "/api/v1/auth/login"
    login_body = schema["paths"]["/api/v1/auth/login"]["post"]["requestBody"]
    assert "application/x-www-form-urlencoded" in login_body["content"]


async def test_login_upgrades_a_hash_made_with_weaker_parameters(
    client: httpx.AsyncClient, container: AppContainer
) -> None:
    weak = PasswordHasher(SecurityConfig(argon2_time_cost=1, argon2_memory_cost=512))
    try:
        async with container.database.session() as session:
            user = await UserService(weak).create(
                session, username="legacy", email="legacy@example.com", password="old-params-pw"
            )
    finally:
        weak.close()
    assert (await login(client, "legacy", "old-params-pw")).status_code == 200
    async with container.database.session() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        assert stored.hashed_password.startswith("$argon2id$v=19$m=1024,t=1,")
    assert (await login(client, "legacy", "old-params-pw")).status_code == 200
