"""Login and registration rate limits: 429 with Retry-After, per subject, then recovery."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from backend.core.config import AppConfig
from backend.main import create_app
from tests.api.conftest import MakeAccount, login

REGISTER = "/api/v1/auth/register"


@asynccontextmanager
async def serve(
    config: AppConfig, client: tuple[str, int] = ("127.0.0.1", 123)
) -> AsyncIterator[httpx.AsyncClient]:
    """A second app, started, with its own security settings; requests come from `client`."""
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


def person(number: int) -> dict[str, Any]:
    return {
        "username": f"person{number}",
        "email": f"p{number}@example.com",
        "password": "pa55word!",
    }


async def test_login_brute_force_reaches_429_and_blocks_the_right_password_too(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    bystander = await make_account()
    statuses = [(await login(client, account.username, f"guess-{n}")).status_code for n in range(5)]
    assert statuses == [401] * 5
    blocked = await login(client, account.username.upper(), account.password)
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "rate_limited"
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    # Spoofed X-Forwarded-For from an untrusted peer does not open a new bucket.
    spoofed = await login(
        client, account.username, account.password, headers={"X-Forwarded-For": "198.51.100.7"}
    )
    assert spoofed.status_code == 429
    # Another account from the same address is not affected.
    assert (await login(client, bystander.username, bystander.password)).status_code == 200


async def test_login_limit_recovers_when_the_window_ends(
    make_config: Callable[..., AppConfig], make_account: MakeAccount
) -> None:
    account = await make_account()
    config = make_config(security={"login_rate_limit": 2, "login_rate_window_seconds": 1})
    async with serve(config) as http:
        for n in range(2):
            assert (await login(http, account.username, f"guess-{n}")).status_code == 401
        blocked = await login(http, account.username, account.password)
        assert blocked.status_code == 429
        retry_after = int(blocked.headers["retry-after"])
        assert retry_after == 1
        await asyncio.sleep(retry_after + 0.1)  # the behaviour under test is time passing
        assert (await login(http, account.username, account.password)).status_code == 200


async def test_successful_login_resets_the_count(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    for _ in range(3):
        for n in range(4):
            assert (await login(client, account.username, f"guess-{n}")).status_code == 401
        assert (await login(client, account.username, account.password)).status_code == 200


async def test_registration_is_limited_per_address(client: httpx.AsyncClient) -> None:
    statuses = [(await client.post(REGISTER, json=person(n))).status_code for n in range(11)]
    assert statuses == [201] * 10 + [429]


async def test_trusted_proxy_forwarded_address_is_the_client(
    make_config: Callable[..., AppConfig],
) -> None:
    config = make_config(
        security={"register_rate_limit": 1, "trusted_proxies": ["127.0.0.0/8", "10.0.0.0/8"]}
    )
    async with serve(config) as http:
        first = {"X-Forwarded-For": "203.0.113.5, 10.1.2.3"}
        second = {"X-Forwarded-For": "203.0.113.6"}
        assert (await http.post(REGISTER, json=person(1), headers=first)).status_code == 201
        assert (await http.post(REGISTER, json=person(2), headers=first)).status_code == 429
        # A forged left-most entry does not help: the right-most untrusted hop is the client.
        forged = {"X-Forwarded-For": "192.0.2.99, 203.0.113.5"}
        assert (await http.post(REGISTER, json=person(3), headers=forged)).status_code == 429
        assert (await http.post(REGISTER, json=person(4), headers=second)).status_code == 201


async def test_logins_are_limited_per_address_whatever_the_username(
    make_config: Callable[..., AppConfig], make_account: MakeAccount
) -> None:
    account = await make_account()
    config = make_config(security={"login_ip_rate_limit": 5})
    async with serve(config, client=("198.51.100.20", 5000)) as sprayer:
        names = [f"random-{uuid.uuid4().hex[:12]}" for _ in range(6)]
        statuses = [(await login(sprayer, name, "pa55word!")).status_code for name in names]
        assert statuses == [401] * 5 + [429]
        # A real account from that address waits too; from any other address it does not.
        blocked = await login(sprayer, account.username, account.password)
        assert blocked.status_code == 429
        assert blocked.json()["error"] == "rate_limited"
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
    async with serve(config, client=("198.51.100.21", 5000)) as neighbour:
        assert (await login(neighbour, account.username, account.password)).status_code == 200


async def test_logins_beyond_the_hashing_queue_are_answered_503_at_once(
    make_config: Callable[..., AppConfig],
) -> None:
    # One hashing thread, no queue, and hashes slow enough for the logins to overlap.
    config = make_config(
        security={
            "password_hash_workers": 1,
            "password_hash_queue": 0,
            "argon2_time_cost": 3,
            "argon2_memory_cost": 65536,
        }
    )
    async with serve(config, client=("198.51.100.30", 5000)) as http:
        names = [f"unknown-{n}" for n in range(8)]
        answers = await asyncio.gather(*(login(http, name, "pa55word!") for name in names))
        statuses = [answer.status_code for answer in answers]
        assert set(statuses) == {401, 503}, statuses
        busy = answers[statuses.index(503)]
        assert busy.json()["error"] == "busy"
        assert busy.headers["retry-after"] == "1"
        # Nothing stays queued: once the hash is done the next login is hashed as usual.
        assert (await login(http, "unknown-again", "pa55word!")).status_code == 401
