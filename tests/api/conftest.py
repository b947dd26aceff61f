"""Accounts for API tests: created directly through the service, logged in over HTTP."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.models.enums import UserRole
from backend.services.users import UserService
from tests.conftest import TEST_SECRET

DEFAULT_PASSWORD = "correct-horse-battery"
# Where `stranger` connects from: not the address the `client` fixture uses.
STRANGER_ADDRESS = ("203.0.113.66", 40_000)
_numbers = itertools.count(1)


@dataclass
class Account:
    """A user with the password it was created with and a fresh token pair."""

    id: int
    username: str
    email: str
    password: str
    role: UserRole
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of the access token."""
        return {"Authorization": f"Bearer {self.access_token}"}


async def login(
    client: httpx.AsyncClient, username: str, password: str, **kwargs: object
) -> httpx.Response:
    """POST the OAuth2 password form."""
    return await client.post(
        "/api/v1/auth/login",
        data={"username": username, "password": password},
        **kwargs,  # type: ignore[arg-type]
    )


MakeAccount = Callable[..., Awaitable[Account]]


@pytest.fixture
async def stranger(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same app from another address: someone holding a leaked token."""
    transport = httpx.ASGITransport(app=app, client=STRANGER_ADDRESS)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def make_account(client: httpx.AsyncClient, container: AppContainer) -> MakeAccount:
    """Create a user with a role and log it in: `await make_account(role=UserRole.VIEWER)`."""

    async def factory(
        role: UserRole = UserRole.TRADER,
        username: str | None = None,
        password: str = DEFAULT_PASSWORD,
    ) -> Account:
        name = username or f"{role.value}{next(_numbers)}"
        async with container.database.session() as session:
            user = await UserService(container.security.passwords).create(
                session, username=name, email=f"{name}@example.com", password=password, role=role
            )
        response = await login(client, name, password)
        assert response.status_code == 200, response.text
        tokens = response.json()
        return Account(
            id=user.id,
            username=user.username,
            email=user.email,
            password=password,
            role=role,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
        )

    return factory


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, make_config: Callable[..., AppConfig]) -> None:
    """Point the CLI's configuration (read from the environment) at this run's database."""
    config = make_config()
    monkeypatch.setenv("DATABASE_URL", config.database.url)
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("SECURITY__ARGON2_TIME_COST", "1")
    monkeypatch.setenv("SECURITY__ARGON2_MEMORY_COST", "1024")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDFIRE_ADMIN_PASSWORD", "cli-admin-password")
