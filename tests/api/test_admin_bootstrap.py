"""The first admin: from configuration at start-up, or from `redfire create-admin`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, select

from backend.app.container import AppContainer
from backend.cli import main
from backend.core.config import AppConfig
from backend.main import create_app
from backend.models.user import User
from backend.services.users import UserService
from tests.api.conftest import login


async def _user_count(container: AppContainer) -> int:
    async with container.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def _start_and_login(config: AppConfig, username: str, password: str) -> httpx.Response:
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            tokens = (await login(http, username, password)).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            return await http.get("/api/v1/users/me", headers=headers)


async def test_configured_admin_is_created_once_at_startup(
    make_config: Callable[..., AppConfig], container: AppContainer
) -> None:
    admin = {"username": "Root", "password": "first-admin-password", "email": "root@example.com"}
    me = await _start_and_login(make_config(admin=admin), "root", "first-admin-password")
    assert me.status_code == 200
    assert (me.json()["username"], me.json()["role"]) == ("root", "admin")

    # A restart with another configured password neither duplicates nor overwrites the admin.
    changed = make_config(admin={**admin, "password": "another-password-here"})
    again = await _start_and_login(changed, "root", "first-admin-password")
    assert again.status_code == 200
    assert await _user_count(container) == 1


async def test_a_configured_admin_whose_email_is_taken_is_skipped_with_one_warning(
    make_config: Callable[..., AppConfig],
    container: AppContainer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with container.database.session() as session:
        await UserService(container.security.passwords).create(
            session, username="admin", email="admin@example.com", password="first-admin-pw"
        )
    # ADMIN__EMAIL left at its default, the address the first admin already has.
    config = make_config(admin={"username": "boss", "password": "boss-password-123"})
    app = create_app(config)
    caplog.set_level(logging.WARNING)
    async with app.router.lifespan_context(app):  # starts: no startup_hook_failed
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            assert (await http.get("/health/ready")).status_code == 200
            assert (await login(http, "boss", "boss-password-123")).status_code == 401
    warnings = [r.getMessage() for r in caplog.records if "admin_not_created" in r.getMessage()]
    assert len(warnings) == 1
    assert "admin@example.com" in warnings[0]
    assert "boss-password-123" not in caplog.text
    assert "startup_hook_failed" not in caplog.text
    assert await _user_count(container) == 1


@pytest.mark.usefixtures("cli_env")
async def test_create_admin_command(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["create-admin", "--username", "Operator", "--email", "ops@example.com"]
    assert await asyncio.to_thread(main, argv) == 0
    assert "created admin 'operator'" in capsys.readouterr().out
    tokens = (await login(client, "operator", "cli-admin-password")).json()
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["role"] == "admin"

    assert await asyncio.to_thread(main, argv) == 1
    captured = capsys.readouterr()
    assert "taken" in captured.err
    assert "cli-admin-password" not in captured.out + captured.err


@pytest.mark.usefixtures("cli_env")
async def test_create_admin_refuses_a_short_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], container: AppContainer
) -> None:
    monkeypatch.setenv("REDFIRE_ADMIN_PASSWORD", "short")
    argv = ["create-admin", "--username", "operator", "--email", "ops@example.com"]
    assert await asyncio.to_thread(main, argv) == 2
    assert "password" in capsys.readouterr().err
    assert await _user_count(container) == 0


def test_admin_username_without_password_is_a_config_error(
    make_config: Callable[..., AppConfig],
) -> None:
    with pytest.raises(ValueError, match="ADMIN__PASSWORD"):
        make_config(admin={"username": "root"})
