"""Passwords, tokens and the secret key never reach a log line."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.api.conftest import login
from tests.conftest import TEST_SECRET

PASSWORD = "Pa55word-only-in-requests"
NEW_PASSWORD = "Another-pa55word-only-in-requests"


async def test_no_password_or_token_is_logged(
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"username": "logcheck", "email": "log@example.com", "password": PASSWORD}
    assert (await client.post("/api/v1/auth/register", json=body)).status_code == 201
    # A password typed into the username field is a classic leak in failed-login logs.
    assert (await login(client, PASSWORD, PASSWORD)).status_code == 401
    assert (await login(client, "logcheck", NEW_PASSWORD)).status_code == 401
    tokens = (await login(client, "logcheck", PASSWORD)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    replay = await stranger.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert (refreshed.status_code, replay.status_code) == (200, 401)
    session = (await login(client, "logcheck", PASSWORD)).json()
    changed = await client.patch(
        "/api/v1/users/me",
        json={"password": NEW_PASSWORD, "current_password": PASSWORD},
        headers={"Authorization": f"Bearer {session['access_token']}"},
    )
    assert changed.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401
    bad = await client.post("/api/v1/auth/register", json={**body, "email": "bad"})
    assert bad.status_code == 422

    records = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.__dict__!r}" for record in caplog.records
    )
    output = records + caplog.text + "".join(capfd.readouterr())
    assert "login_succeeded" in output
    assert "refresh_token_reused" in output
    secrets = [
        PASSWORD,
        NEW_PASSWORD,
        TEST_SECRET,
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed.json()["access_token"],
        refreshed.json()["refresh_token"],
        session["access_token"],
        session["refresh_token"],
    ]
    for secret in secrets:
        assert secret not in output
        # A token's signature alone is just as sensitive as the whole token.
        assert secret.rsplit(".", 1)[-1] not in output
