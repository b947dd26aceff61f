"""Strategies over HTTP: classes, CRUD scoped to the owner, start/stop, live status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from backend.app.container import AppContainer
from backend.core.messaging import MemoryLeaseStore
from backend.models.enums import StrategyStatus, UserRole
from backend.models.strategy import Strategy
from backend.models.user import User
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.service import OWNER_CANNOT_TRADE
from tests.api.conftest import Account, MakeAccount
from tests.services.strategy.conftest import test_registry
from tests.services.strategy.support import (
    SYMBOL,
    RecordingOrderGateway,
    app_engine_paused,
    tick,
)

URL = "/api/v1/strategies"
MA = {"fast_window": 2, "slow_window": 3, "warmup_ticks": 4, "fixed_size": "2"}


@pytest.fixture
def orders() -> RecordingOrderGateway:
    """The order port the engine places through."""
    return RecordingOrderGateway()


@pytest.fixture
async def engine(
    app: FastAPI, container: AppContainer, orders: RecordingOrderGateway
) -> AsyncIterator[StrategyEngine]:
    """A started engine as `container.strategies`, on a known contract list."""
    async with app_engine_paused(container) as previous:
        engine = StrategyEngine(
            config=container.config.strategy,
            replica_id="api-replica",
            database=container.database,
            cache=container.cache,
            leases=MemoryLeaseStore(),
            orders=orders,
            registry=test_registry(),
        )
        await engine.start()
        container.strategies = engine  # type: ignore[attr-defined]
        try:
            yield engine
        finally:
            await engine.stop()
            if previous is None:
                del container.strategies  # type: ignore[attr-defined]
            else:
                container.strategies = previous  # type: ignore[attr-defined]


@pytest.fixture
async def trader(make_account: MakeAccount, engine: StrategyEngine) -> Account:
    """A logged-in trader (with the engine in place)."""
    return await make_account()


async def create(client: httpx.AsyncClient, account: Account, **overrides: Any) -> httpx.Response:
    """POST a MovingAverageStrategy (overridable)."""
    body = {"name": "ma", "class_name": "MovingAverageStrategy", "symbol": SYMBOL}
    return await client.post(
        URL, json={**body, "parameters": MA, **overrides}, headers=account.headers
    )


async def test_classes_list_the_registry_with_schemas(
    client: httpx.AsyncClient, trader: Account
) -> None:
    response = await client.get(f"{URL}/classes", headers=trader.headers)
    assert response.status_code == 200
    classes = {item["class_name"]: item for item in response.json()}
    schema = classes["MovingAverageStrategy"]["parameters"]
    assert schema["properties"]["fast_window"]["default"] == 10
    assert "crossover" in classes["MovingAverageStrategy"]["description"]
    assert (await client.get(f"{URL}/classes")).status_code == 401


async def test_create_answers_a_stopped_strategy(
    client: httpx.AsyncClient, trader: Account
) -> None:
    response = await create(client, trader)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "stopped"
    assert body["user_id"] == trader.id
    assert body["parameters"]["fixed_size"] == "2"
    assert body["parameters"]["order_type"] == "market"
    assert body["last_error"] is None
    assert set(body) == {
        "id", "user_id", "name", "class_name", "symbol", "parameters", "status",
        "last_error", "created_at", "updated_at",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"class_name": "os.system"}, "unknown_strategy_class"),
        ({"class_name": "vnpy_ctastrategy.strategies.DoubleMaStrategy"}, "unknown_strategy_class"),
        ({"parameters": {"fast_window": 30, "slow_window": 20}}, "invalid_strategy_parameters"),
        ({"parameters": {"fixed_size": "-1"}}, "invalid_strategy_parameters"),
        # IF2412 trades whole lots: the first signal's order would be refused.
        ({"parameters": {"fixed_size": "0.5"}}, "invalid_strategy_parameters"),
        ({"symbol": "XX9999.SHFE"}, "unknown_symbol"),
        ({"name": ""}, "validation_error"),
    ],
)
async def test_create_refuses_what_cannot_run(
    client: httpx.AsyncClient, trader: Account, overrides: dict[str, Any], code: str
) -> None:
    response = await create(client, trader, **overrides)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code
    listed = await client.get(URL, headers=trader.headers)
    assert listed.json()["total"] == 0


async def test_sizes_are_checked_against_the_contract_on_create_and_update(
    client: httpx.AsyncClient, trader: Account
) -> None:
    refused = await create(client, trader, parameters={"fixed_size": "0.5"})
    assert refused.json()["detail"] == [
        {
            "type": "volume_step",
            "loc": ["parameters", "fixed_size"],
            "msg": "must be a multiple of 1, IF2412.CFFEX's volume step",
        }
    ]
    created = await create(client, trader, parameters={"fixed_size": "2"})
    assert created.status_code == 201, created.text
    url = f"{URL}/{created.json()['id']}"
    patched = await client.patch(
        url, json={"parameters": {"fixed_size": "1.5"}}, headers=trader.headers
    )
    assert patched.status_code == 422
    assert patched.json()["detail"][0]["loc"] == ["parameters", "fixed_size"]
    stored = await client.get(url, headers=trader.headers)
    assert stored.json()["parameters"]["fixed_size"] == "2"


async def test_names_are_unique_per_user(
    client: httpx.AsyncClient, trader: Account, make_account: MakeAccount
) -> None:
    assert (await create(client, trader)).status_code == 201
    duplicate = await create(client, trader)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == "strategy_name_taken"
    assert (await create(client, await make_account())).status_code == 201


async def test_list_and_read_only_your_own(
    client: httpx.AsyncClient, trader: Account, make_account: MakeAccount
) -> None:
    for name in ("a", "b", "c"):
        assert (await create(client, trader, name=name)).status_code == 201
    other = await make_account()
    foreign = (await create(client, other, name="theirs")).json()

    page = (await client.get(URL, params={"limit": 2, "offset": 1}, headers=trader.headers)).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [item["name"] for item in page["items"]] == ["b", "c"]
    for path in ("", "/status"):
        response = await client.get(f"{URL}/{foreign['id']}{path}", headers=trader.headers)
        assert response.status_code == 404
        assert response.json()["error"] == "strategy_not_found"
    start = await client.post(f"{URL}/{foreign['id']}/start", headers=trader.headers)
    assert start.status_code == 404
    assert (await client.get(URL, params={"limit": 501}, headers=trader.headers)).status_code == 422


async def test_viewers_read_but_do_not_change(
    client: httpx.AsyncClient, make_account: MakeAccount, engine: StrategyEngine
) -> None:
    viewer = await make_account(role=UserRole.VIEWER)
    assert (await client.get(URL, headers=viewer.headers)).status_code == 200
    response = await create(client, viewer)
    assert response.status_code == 403
    assert response.json()["error"] == "read_only"


async def test_start_runs_it_and_status_reports_it(
    client: httpx.AsyncClient,
    trader: Account,
    engine: StrategyEngine,
    orders: RecordingOrderGateway,
) -> None:
    strategy = (await create(client, trader)).json()
    started = await client.post(f"{URL}/{strategy['id']}/start", headers=trader.headers)
    assert started.status_code == 200
    assert started.json()["status"] == "running"
    again = await client.post(f"{URL}/{strategy['id']}/start", headers=trader.headers)
    assert (again.status_code, again.json()["status"]) == (200, "running")

    for price in ["10", "10", "10", "10", "9", "12"]:
        await engine.on_tick(tick(price))
    await engine.flush()
    [order] = orders.placed
    assert (order.user_id, order.strategy_id, order.quantity) == (
        trader.id, strategy["id"], Decimal(2),
    )  # fmt: skip

    status = (await client.get(f"{URL}/{strategy['id']}/status", headers=trader.headers)).json()
    assert status["strategy_id"] == strategy["id"]
    assert (status["status"], status["running"], status["owner"]) == (
        "running", True, "api-replica",
    )  # fmt: skip
    assert (status["ticks_processed"], status["orders_placed"]) == (6, 1)
    # At 8 places, as every amount the API writes (it was "0" beside "1.00000000").
    assert status["position"] == "0.00000000"
    assert status["config"]["fast_window"] == 2
    assert status["last_update"] is not None

    stopped = await client.post(f"{URL}/{strategy['id']}/stop", headers=trader.headers)
    assert (stopped.status_code, stopped.json()["status"]) == (200, "stopped")
    assert engine.runners == {}
    after = (await client.get(f"{URL}/{strategy['id']}/status", headers=trader.headers)).json()
    assert (after["status"], after["running"], after["owner"]) == ("stopped", False, None)
    # What it last reported stays: it was lost at the stop.
    assert (after["ticks_processed"], after["orders_placed"], after["position"]) == (
        6, 1, "0.00000000",
    )  # fmt: skip
    assert after["last_update"] == status["last_update"]


async def test_a_strategy_that_never_ran_has_no_position(
    client: httpx.AsyncClient, trader: Account
) -> None:
    strategy = (await create(client, trader)).json()
    status = (await client.get(f"{URL}/{strategy['id']}/status", headers=trader.headers)).json()
    assert (status["ticks_processed"], status["orders_placed"], status["position"]) == (0, 0, None)


async def test_a_running_strategy_cannot_be_changed(
    client: httpx.AsyncClient, trader: Account
) -> None:
    strategy = (await create(client, trader)).json()
    await client.post(f"{URL}/{strategy['id']}/start", headers=trader.headers)
    for method in ("patch", "delete"):
        blocked = await client.request(
            method, f"{URL}/{strategy['id']}", json={"name": "x"}, headers=trader.headers
        )
        assert blocked.status_code == 409
        assert blocked.json()["error"] == "strategy_running"


async def test_a_strategy_that_fails_to_start_reports_error(
    client: httpx.AsyncClient, trader: Account
) -> None:
    strategy = (await create(client, trader, class_name="BrokenInitStrategy", parameters={})).json()
    started = await client.post(f"{URL}/{strategy['id']}/start", headers=trader.headers)
    assert started.status_code == 200
    assert started.json()["status"] == "error"
    assert started.json()["last_error"] == "RuntimeError: no market data"
    status = (await client.get(f"{URL}/{strategy['id']}/status", headers=trader.headers)).json()
    assert (status["status"], status["running"]) == ("error", False)
    # An errored strategy can be changed, restarted or deleted.
    renamed = await client.patch(
        f"{URL}/{strategy['id']}", json={"name": "renamed"}, headers=trader.headers
    )
    assert renamed.json()["name"] == "renamed"


async def test_patch_and_delete_while_stopped(client: httpx.AsyncClient, trader: Account) -> None:
    strategy = (await create(client, trader)).json()
    patched = await client.patch(
        f"{URL}/{strategy['id']}",
        json={"name": "ma-slow", "parameters": {"fast_window": 5, "slow_window": 50}},
        headers=trader.headers,
    )
    assert patched.status_code == 200
    body = patched.json()
    assert body["name"] == "ma-slow"
    assert (body["parameters"]["slow_window"], body["parameters"]["fixed_size"]) == (50, "1")
    bad = await client.patch(
        f"{URL}/{strategy['id']}", json={"parameters": {"slow_window": 1}}, headers=trader.headers
    )
    assert bad.status_code == 422
    deleted = await client.delete(f"{URL}/{strategy['id']}", headers=trader.headers)
    assert deleted.status_code == 204
    missing = await client.get(f"{URL}/{strategy['id']}", headers=trader.headers)
    assert missing.status_code == 404


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": "viewer"}])
async def test_an_owner_who_may_no_longer_trade_has_their_strategies_stopped(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    trader: Account,
    engine: StrategyEngine,
    change: dict[str, Any],
) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    strategy = (await create(client, trader)).json()
    started = await client.post(f"{URL}/{strategy['id']}/start", headers=trader.headers)
    assert started.status_code == 200
    assert set(engine.runners) == {strategy["id"]}

    changed = await client.patch(f"/api/v1/users/{trader.id}", json=change, headers=admin.headers)

    assert changed.status_code == 200
    assert engine.runners == {}
    async with container.database.session() as session:
        stored = await session.get(Strategy, strategy["id"])
        assert stored is not None
        assert stored.status is StrategyStatus.STOPPED
        assert stored.last_error == OWNER_CANNOT_TRADE


async def test_a_start_racing_a_deactivation_does_not_run(
    client: httpx.AsyncClient, container: AppContainer, trader: Account, engine: StrategyEngine
) -> None:
    strategy = (await create(client, trader)).json()
    # The start committed after the admin's change had stopped everything of this owner.
    async with container.database.session() as session:
        await session.execute(update(User).where(User.id == trader.id).values(is_active=False))
        await session.execute(
            update(Strategy)
            .where(Strategy.id == strategy["id"])
            .values(status=StrategyStatus.RUNNING)
        )

    await engine.reconcile()

    assert engine.runners == {}
