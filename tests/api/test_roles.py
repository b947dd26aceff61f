"""TraderUser and AdminUser guard routes: viewers cannot write, non-admins cannot administer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from backend.api.deps.identity import AdminUser, TraderUser
from backend.core.config import AppConfig
from backend.main import create_app
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount


@pytest.fixture
async def guarded(make_config: Callable[..., AppConfig]) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database with one trader-only and one admin-only write."""
    app: FastAPI = create_app(make_config())

    @app.post("/guarded/trade")
    async def trade(user: TraderUser) -> dict[str, int]:
        return {"user_id": user.id}

    @app.post("/guarded/administer")
    async def administer(user: AdminUser) -> dict[str, int]:
        return {"user_id": user.id}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.mark.parametrize(
    ("role", "trade", "administer"),
    [
        (UserRole.VIEWER, (403, "read_only"), (403, "forbidden")),
        (UserRole.TRADER, (200, None), (403, "forbidden")),
        (UserRole.ADMIN, (200, None), (200, None)),
    ],
)
async def test_roles_guard_writes(
    guarded: httpx.AsyncClient,
    make_account: MakeAccount,
    role: UserRole,
    trade: tuple[int, str | None],
    administer: tuple[int, str | None],
) -> None:
    account = await make_account(role=role)
    for path, (status, code) in (("/guarded/trade", trade), ("/guarded/administer", administer)):
        response = await guarded.post(path, headers=account.headers)
        assert response.status_code == status
        if code is not None:
            assert response.json()["error"] == code
        else:
            assert response.json() == {"user_id": account.id}
