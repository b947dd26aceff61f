"""Token checks while Redis is unreachable, and after it comes back (empty or not).

The app runs in-process on PostgreSQL and Redis through proxies the test owns (conftest.rig):
`cut()` refuses connections as a killed Redis does, `pause()` leaves them open and unanswered
as a Redis stopped with SIGSTOP does. A revocation must hold throughout, whatever Redis
remembers afterwards, and a demotion must stop orders at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
from sqlalchemy import func, select

from backend.core.security.revocation import MIRRORED_KEY, session_key
from backend.core.security.tokens import TokenType
from backend.models.enums import OrderStatus, UserRole
from backend.models.order import Order
from backend.services.users import UserService
from tests.api.stream import serve, ws_client
from tests.reliability.conftest import FaultRig
from tests.reliability.support import (
    PASSWORD,
    limit_order,
    login,
    requires_services,
    wait_until,
)

pytestmark = requires_services
OUTAGES = ["killed", "paused"]
ORDERS = "/api/v1/orders"
ME = "/api/v1/users/me"
REFRESH = "/api/v1/auth/refresh"
POLICY_VIOLATION = 1008
RECOVERY_SECONDS = 15.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def redis_unreachable(rig: FaultRig, outage: str) -> AsyncIterator[None]:
    """Redis killed (connections refused) or paused (connections hang) until the block ends."""
    if outage == "killed":
        await rig.redis.cut()
    else:
        rig.redis.pause()
    try:
        yield
    finally:
        if outage == "killed":
            await rig.redis.restore()
        else:
            rig.redis.resume()


async def count_orders(rig: FaultRig, user_id: int, *, open_only: bool = False) -> int:
    """The user's orders in the database (open ones only, if asked)."""
    statement = select(func.count()).select_from(Order).where(Order.user_id == user_id)
    if open_only:
        statement = statement.where(Order.status.in_(OrderStatus.open_statuses()))
    async with rig.container.database.session() as session:
        return int(await session.scalar(statement) or 0)


def user_of(rig: FaultRig, headers: dict[str, str]) -> int:
    """The user id in an Authorization header's access token."""
    token = headers["Authorization"].removeprefix("Bearer ")
    return rig.container.security.tokens.decode(token, TokenType.ACCESS).user_id


async def assert_refused(rig: FaultRig, tokens: dict[str, str]) -> None:
    """Every way in with a revoked session answers 401 and stores nothing."""
    headers = bearer(tokens["access_token"])
    user_id = user_of(rig, headers)
    before = await count_orders(rig, user_id)
    for answer in (
        await rig.http.get(ORDERS, headers=headers),
        await rig.http.get(ME, headers=headers),
        await rig.http.post(ORDERS, json=limit_order(), headers=headers),
        await rig.http.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}),
    ):
        assert answer.status_code == 401, (answer.request.url, answer.text)
        assert answer.json()["error"] == "token_revoked"
    assert await count_orders(rig, user_id) == before
    async with serve(rig.app) as ws_url, ws_client(ws_url, token=tokens["access_token"]) as ws:
        assert await ws.close_code() == POLICY_VIOLATION


@pytest.mark.parametrize("outage", OUTAGES)
async def test_a_logged_out_session_stays_refused_while_redis_is_away_and_back_empty(
    rig: FaultRig, outage: str
) -> None:
    tokens = (await login(rig.http, rig.username, PASSWORD)).json()
    headers = bearer(tokens["access_token"])
    assert (await rig.http.get(ORDERS, headers=headers)).status_code == 200  # remembered
    assert (await rig.http.post("/api/v1/auth/logout", headers=headers)).status_code == 204

    async with redis_unreachable(rig, outage):
        await assert_refused(rig, tokens)
        rig.empty_redis()  # it comes back as a restarted Redis: without a single key
    await assert_refused(rig, tokens)

    async def copied_back() -> bool:
        return await rig.container.cache.get(MIRRORED_KEY) is not None

    await wait_until(copied_back, within=RECOVERY_SECONDS, what="revocations copied to Redis")
    await assert_refused(rig, tokens)


@pytest.mark.parametrize("outage", OUTAGES)
async def test_a_logout_while_redis_is_away_holds_when_it_is_back(
    rig: FaultRig, outage: str
) -> None:
    tokens = (await login(rig.http, rig.username, PASSWORD)).json()
    headers = bearer(tokens["access_token"])
    assert (await rig.http.get(ORDERS, headers=headers)).status_code == 200  # remembered
    async with redis_unreachable(rig, outage):
        assert (await rig.http.post("/api/v1/auth/logout", headers=headers)).status_code == 204
        await assert_refused(rig, tokens)
    await assert_refused(rig, tokens)
    claims = rig.container.security.tokens.decode(tokens["access_token"], TokenType.ACCESS)

    async def marked_in_redis() -> bool:
        return await rig.container.cache.get(session_key(claims.session_id)) == 1

    await wait_until(marked_in_redis, within=RECOVERY_SECONDS, what="the revocation in Redis")
    await assert_refused(rig, tokens)


async def admin_headers(rig: FaultRig) -> dict[str, str]:
    """An administrator's Authorization header, created for this test."""
    name = f"{rig.username}-admin"
    async with rig.container.database.session() as session:
        await UserService(rig.container.security.passwords).create(
            session,
            username=name,
            email=f"{name}@example.com",
            password=PASSWORD,
            role=UserRole.ADMIN,
        )
    return bearer((await login(rig.http, name, PASSWORD)).json()["access_token"])


@contextmanager
def no_error_lines(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing in the block logs at error level (a 500, a crashed task)."""
    yield
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert errors == []


@pytest.mark.parametrize("outage", OUTAGES)
async def test_a_demotion_while_redis_is_away_stops_orders_at_once_and_leaves_none_open(
    rig: FaultRig, outage: str, caplog: pytest.LogCaptureFixture
) -> None:
    http, trader = rig.http, rig.headers
    trader_id = user_of(rig, trader)
    admin = await admin_headers(rig)
    placed = await http.post(ORDERS, json=limit_order(), headers=trader)
    assert (placed.status_code, placed.json()["status"]) == (201, "submitted")

    async with rig.replica(f"{rig.container.config.replica_id}-b") as other:
        # The other replica has checked the trader's token: it remembers it may trade.
        assert (await other.get(ORDERS, headers=trader)).status_code == 200
        with no_error_lines(caplog):
            async with redis_unreachable(rig, outage):
                # A check while Redis is away reads the database (the trader may trade) and
                # tries to cache it: a write a paused Redis applies when it resumes.
                assert (await http.get(ORDERS, headers=trader)).status_code == 200
                demoted = await http.patch(
                    f"/api/v1/users/{trader_id}", json={"role": "viewer"}, headers=admin
                )
                assert demoted.status_code == 200, demoted.text
                # Neither replica heard of it through Redis: the booking reads the role.
                for replica in (http, other):
                    refused = await replica.post(ORDERS, json=limit_order(), headers=trader)
                    assert refused.status_code == 403, refused.text
                    assert refused.json()["error"] == "read_only"
            for _ in range(3):
                for replica in (http, other):
                    refused = await replica.post(ORDERS, json=limit_order(), headers=trader)
                    assert refused.status_code == 403, refused.text

    assert await count_orders(rig, trader_id) == 1

    async def none_open() -> bool:
        return await count_orders(rig, trader_id, open_only=True) == 0

    await wait_until(none_open, within=RECOVERY_SECONDS, what="the order cancelled")
    listed = await http.get(ORDERS, headers=trader)  # a viewer still reads their orders
    assert [order["status"] for order in listed.json()["items"]] == ["cancelled"]


async def test_orders_racing_a_demotion_are_refused_or_cancelled(rig: FaultRig) -> None:
    http, trader = rig.http, rig.headers
    trader_id = user_of(rig, trader)
    admin = await admin_headers(rig)

    async def place() -> httpx.Response:
        return await http.post(ORDERS, json=limit_order(), headers=trader)

    orders = [asyncio.create_task(place()) for _ in range(20)]
    demoted = await http.patch(f"/api/v1/users/{trader_id}", json={"role": "viewer"}, headers=admin)
    answers = await asyncio.gather(*orders)
    assert demoted.status_code == 200
    assert {answer.status_code for answer in answers} <= {201, 403}
    assert (await place()).status_code == 403

    async def none_open() -> bool:
        return await count_orders(rig, trader_id, open_only=True) == 0

    await wait_until(none_open, within=RECOVERY_SECONDS, what="no open order after the demotion")
