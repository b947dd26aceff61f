"""Three server processes behind a round-robin proxy, sharing PostgreSQL and Redis.

Rate limits, the open-order limit, idempotency, token revocation, cancels, the paper market,
fills, WebSocket fan-out and strategy ownership must hold across replicas exactly as they do
within one.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.reliability.conftest import Services, own_services
from tests.reliability.support import (
    ADMIN,
    PASSWORD,
    ServerProcess,
    TcpProxy,
    limit_order,
    login,
    requires_services,
    trader_headers,
    wait_until,
)

pytestmark = requires_services
REPLICAS = ("replica-a", "replica-b", "replica-c")
LEASE_SECONDS = 2.0
STRATEGY = {
    "STRATEGY__LEASE_SECONDS": str(LEASE_SECONDS),
    "STRATEGY__RENEW_INTERVAL_SECONDS": "0.5",
}
# Every test registers its own trader, all from one address.
REGISTRATIONS = {"SECURITY__REGISTER_RATE_LIMIT": "100"}


@dataclass
class Cluster:
    """The replicas, the proxy in front of them, and a client of each."""

    servers: dict[str, ServerProcess]
    proxy: TcpProxy
    clients: dict[str, httpx.AsyncClient]

    @property
    def proxied(self) -> httpx.AsyncClient:
        """Through the proxy: a new connection, so the next replica, per request."""
        return self.clients["proxy"]


@pytest.fixture(scope="module")
def cluster_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with own_services(tmp_path_factory.mktemp("replicas")) as own:
        yield own


@pytest.fixture(scope="module")
async def cluster(cluster_services: Services) -> AsyncIterator[Cluster]:
    servers = {
        name: cluster_services.server(name, **STRATEGY, **REGISTRATIONS) for name in REPLICAS
    }
    clients: dict[str, httpx.AsyncClient] = {}
    proxy = TcpProxy([("127.0.0.1", server.port) for server in servers.values()])
    try:
        for server in servers.values():
            server.start()
        await asyncio.gather(*(server.wait_ready() for server in servers.values()))
        await proxy.start()
        for name, server in servers.items():
            clients[name] = httpx.AsyncClient(base_url=server.base_url, timeout=10)
        no_keepalive = httpx.Limits(max_keepalive_connections=0)
        clients["proxy"] = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{proxy.port}", timeout=10, limits=no_keepalive
        )
        yield Cluster(servers, proxy, clients)
    finally:
        for http in clients.values():
            await http.aclose()
        await proxy.close()
        for server in servers.values():
            server.stop()


async def resting_order(cluster: Cluster, headers: dict[str, str]) -> dict[str, object]:
    """A limit buy 3 % under the market (tests move it): it rests, inside the price band."""
    quote = await cluster.proxied.get("/api/v1/market/ticks/IF2412.CFFEX", headers=headers)
    half = (Decimal(quote.json()["last_price"]) * Decimal("0.97") / 2).quantize(Decimal("0.1"))
    return limit_order(str(half * 2))  # a multiple of IF's 0.2 tick


async def test_the_proxy_spreads_requests_over_every_replica(cluster: Cluster) -> None:
    seen = [(await cluster.proxied.get("/health")).json()["replica"] for _ in REPLICAS]
    assert sorted(seen) == sorted(REPLICAS)


async def test_login_rate_limit_is_counted_across_replicas(cluster: Cluster) -> None:
    http = cluster.proxied
    await trader_headers(http, "limited-trader")
    codes = [(await login(http, "limited-trader", "wrong-password")).status_code for _ in range(6)]
    # Five failures spread round-robin over three replicas use up the shared limit of five.
    assert codes == [401] * 5 + [429], codes
    assert (
        await login(cluster.clients["replica-c"], "limited-trader", PASSWORD)
    ).status_code == 429


async def test_one_idempotency_key_on_every_replica_makes_one_order(cluster: Cluster) -> None:
    headers = await trader_headers(cluster.proxied, "idem-trader")
    keyed = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    bodies = []
    for name in REPLICAS:
        response = await cluster.clients[name].post(
            "/api/v1/orders", json=limit_order(), headers=keyed
        )
        assert response.status_code == 201, (name, response.text)
        bodies.append(response.json())
    assert bodies[0] == bodies[1] == bodies[2]
    racing = await asyncio.gather(
        *(
            cluster.clients[name].post(
                "/api/v1/orders", json=limit_order(), headers={**headers, "Idempotency-Key": "race"}
            )
            for name in REPLICAS
        )
    )
    created = {response.json()["id"] for response in racing if response.status_code == 201}
    assert len(created) == 1, (
        [response.text for response in racing],
        [server.log()[-6000:] for server in cluster.servers.values()],
    )
    assert {response.status_code for response in racing} <= {201, 409}
    listed = await cluster.proxied.get("/api/v1/orders", headers=headers)
    assert listed.json()["total"] == 2


async def test_logout_on_one_replica_revokes_the_token_on_every_other(cluster: Cluster) -> None:
    headers = await trader_headers(cluster.proxied, "logout-trader")
    for name in REPLICAS:
        assert (await cluster.clients[name].get("/api/v1/users/me", headers=headers)).is_success
        # The order endpoints now remember the token in process (AccessGuard).
        assert (await cluster.clients[name].get("/api/v1/orders", headers=headers)).is_success
    logout = await cluster.clients["replica-a"].post("/api/v1/auth/logout", headers=headers)
    assert logout.status_code == 204
    for name in REPLICAS:
        response = await cluster.clients[name].get("/api/v1/users/me", headers=headers)
        assert response.status_code == 401, name

        async def forgotten(name: str = name) -> bool:
            answer = await cluster.clients[name].get("/api/v1/orders", headers=headers)
            return answer.status_code == 401

        # The invalidation travels over Redis pub/sub: it lands within the publish latency.
        await wait_until(forgotten, within=2, interval=0.01, what=f"{name} forgets the token")


async def test_websocket_on_one_replica_sees_an_order_placed_on_another(cluster: Cluster) -> None:
    headers = await trader_headers(cluster.proxied, "ws-trader")
    token = headers["Authorization"].removeprefix("Bearer ")
    url = f"ws://127.0.0.1:{cluster.servers['replica-a'].port}/api/v1/ws?token={token}"
    async with connect(url, open_timeout=5, close_timeout=1) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["order"]}))
        async with asyncio.timeout(5):
            while json.loads(await ws.recv())["topic"] != "subscribed":
                pass
        placed = await cluster.clients["replica-b"].post(
            "/api/v1/orders", json=limit_order(), headers=headers
        )
        assert placed.status_code == 201, cluster.servers["replica-b"].log()[-4000:]
        async with asyncio.timeout(5):
            while True:
                message = json.loads(await ws.recv())
                if message["topic"] == "order" and message["data"]["id"] == placed.json()["id"]:
                    break


async def test_an_order_placed_on_one_replica_is_cancelled_from_another(cluster: Cluster) -> None:
    """Behind a load balancer the cancel lands anywhere; the order rests on its own replica."""
    headers = await trader_headers(cluster.proxied, "cancel-trader")
    placed = await cluster.clients["replica-a"].post(
        "/api/v1/orders", json=await resting_order(cluster, headers), headers=headers
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    cancelled = await cluster.clients["replica-b"].post(
        f"/api/v1/orders/{order_id}/cancel", headers=headers
    )
    assert cancelled.status_code == 200, cancelled.text
    # Answered once the owner's cancel event came back over the event bus, as on the owner.
    assert cancelled.json()["status"] == "cancelled"

    async def final() -> bool:
        order = await cluster.clients["replica-c"].get(
            f"/api/v1/orders/{order_id}", headers=headers
        )
        return bool(order.json()["status"] == "cancelled")

    await wait_until(final, within=5, interval=0.05, what="the order is cancelled")
    account = await cluster.clients["replica-b"].get("/api/v1/account", headers=headers)
    assert account.json()["frozen"] == "0.00000000"


async def test_a_tick_injected_on_one_replica_moves_the_market_of_every_replica(
    cluster: Cluster,
) -> None:
    """One PAPER market: an order resting on replica-b fills on a tick injected through a."""
    headers = await trader_headers(cluster.proxied, "paper-trader")
    admin = await login(cluster.proxied, *ADMIN)
    admin_headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    order = await resting_order(cluster, headers)
    placed = await cluster.clients["replica-b"].post("/api/v1/orders", json=order, headers=headers)
    assert placed.status_code == 201, placed.text
    crossing = Decimal(str(order["price"])) - 1  # a tick whose ask is under the limit
    bid = crossing - Decimal("0.2")
    tick = {"symbol": "IF2412.CFFEX", "last_price": str(crossing), "bid_price_1": str(bid),
            "ask_price_1": str(crossing)}  # fmt: skip
    injected = await cluster.clients["replica-a"].post(
        "/api/v1/market/ticks", json=tick, headers=admin_headers
    )
    assert injected.status_code == 202, injected.text

    async def filled() -> bool:
        order = await cluster.clients["replica-b"].get(
            f"/api/v1/orders/{placed.json()['id']}", headers=headers
        )
        return bool(order.json()["status"] == "filled")

    await wait_until(filled, within=5, interval=0.05, what="b's order fills on a's tick")
    for name in REPLICAS:
        server = cluster.servers[name]
        engine_tick = await cluster.clients[name].get(
            "/api/v1/market/ticks/IF2412.CFFEX", headers=headers
        )
        quoted = Decimal(engine_tick.json()["last_price"])
        assert quoted == crossing, (name, server.log()[-2000:])


async def test_a_replica_started_later_trades_at_the_market_not_its_start_up_prices(
    cluster: Cluster, cluster_services: Services
) -> None:
    """A new pod of a rolling update joins the market as it stands."""
    headers = await trader_headers(cluster.proxied, "late-trader")
    admin = await login(cluster.proxied, *ADMIN)
    admin_headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    tick = {"symbol": "IF2412.CFFEX", "last_price": "3377.0"}  # ask: one tick above
    injected = await cluster.clients["replica-a"].post(
        "/api/v1/market/ticks", json=tick, headers=admin_headers
    )
    assert injected.status_code == 202, injected.text
    late = cluster_services.server("replica-d", **STRATEGY, **REGISTRATIONS)
    late.start()
    try:
        await late.wait_ready()
        async with httpx.AsyncClient(base_url=late.base_url, timeout=10) as http:
            quoted = await http.get("/api/v1/market/ticks/IF2412.CFFEX", headers=headers)
            assert quoted.json()["last_price"] == "3377", late.log()[-3000:]
            market = {"symbol": "IF2412.CFFEX", "side": "BUY", "order_type": "market",
                      "quantity": 1}  # fmt: skip
            placed = await http.post("/api/v1/orders", json=market, headers=headers)
            assert placed.status_code == 201, placed.text

            async def filled() -> bool:
                order = await http.get(f"/api/v1/orders/{placed.json()['id']}", headers=headers)
                return bool(order.json()["status"] == "filled")

            await wait_until(filled, within=5, interval=0.05, what="the market order fills")
            order = await http.get(f"/api/v1/orders/{placed.json()['id']}", headers=headers)
            assert order.json()["avg_fill_price"] == "3377.20000000"
    finally:
        late.stop()


async def test_the_open_order_limit_holds_across_replicas(cluster: Cluster) -> None:
    """Orders booked at the same moment on two replicas count each other's."""
    headers = await trader_headers(cluster.proxied, "limit-trader")
    admin = await login(cluster.proxied, *ADMIN)
    admin_headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    before = (await cluster.proxied.get("/api/v1/admin/risk", headers=admin_headers)).json()
    limit = {"max_open_orders": 4}
    assert (
        await cluster.proxied.put("/api/v1/admin/risk", json=limit, headers=admin_headers)
    ).is_success
    order = await resting_order(cluster, headers)
    try:
        placed = await asyncio.gather(
            *(
                cluster.clients[name].post("/api/v1/orders", json=order, headers=headers)
                for name in ("replica-a", "replica-b") * 4
            )
        )
    finally:
        restore = {"max_open_orders": before["max_open_orders"]}
        await cluster.proxied.put("/api/v1/admin/risk", json=restore, headers=admin_headers)
    statuses = sorted(response.json()["status"] for response in placed)
    assert statuses == ["rejected"] * 4 + ["submitted"] * 4, [r.json() for r in placed]


async def test_a_halt_on_one_replica_holds_on_every_replica_at_once(cluster: Cluster) -> None:
    headers = await trader_headers(cluster.proxied, "halted-trader")
    admin = await login(cluster.clients["replica-a"], *ADMIN)
    admin_headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    order = await resting_order(cluster, headers)
    halted = await cluster.clients["replica-a"].post("/api/v1/admin/halt", headers=admin_headers)
    assert halted.json()["trading_halted"] is True
    try:
        for name in REPLICAS:
            placed = await cluster.clients[name].post("/api/v1/orders", json=order, headers=headers)
            assert placed.json()["reject_reason"] == "trading_halted", (name, placed.text)
            risk = await cluster.clients[name].get("/api/v1/admin/risk", headers=admin_headers)
            assert risk.json()["trading_halted"] is True, name
    finally:
        await cluster.clients["replica-a"].post("/api/v1/admin/resume", headers=admin_headers)


async def test_buying_power_holds_across_replicas(cluster: Cluster) -> None:
    """Orders of one account booked at the same moment on two replicas: each booking sees the
    other's orders, so together they never take the account below zero."""
    headers = await trader_headers(cluster.proxied, "funded-trader")
    order = {**(await resting_order(cluster, headers)), "quantity": 3}
    notional = 3 * Decimal(str(order["price"])) * 300
    fits = int(Decimal(10_000_000) // notional)
    assert 0 < fits < 8, notional
    placed = await asyncio.gather(
        *(
            cluster.clients[name].post("/api/v1/orders", json=order, headers=headers)
            for name in ("replica-a", "replica-b") * 4
        )
    )
    reasons = sorted(response.json()["reject_reason"] or "" for response in placed)
    assert reasons == [""] * fits + ["insufficient_buying_power"] * (8 - fits), reasons
    account = (await cluster.proxied.get("/api/v1/account", headers=headers)).json()
    assert Decimal(account["frozen"]) == fits * notional
    assert Decimal(account["available"]) >= 0


async def test_fills_booked_by_every_replica_at_once_add_up_in_one_account(
    cluster: Cluster,
) -> None:
    """Each replica books the fills of the orders it routed into the same position and account."""
    headers = await trader_headers(cluster.proxied, "busy-trader")
    market = {"symbol": "rb2501.SHFE", "side": "BUY", "order_type": "market", "quantity": 1}
    placed = await asyncio.gather(
        *(
            cluster.clients[name].post("/api/v1/orders", json=market, headers=headers)
            for name in REPLICAS * 10
        )
    )
    assert {response.status_code for response in placed} == {201}
    ids = [response.json()["id"] for response in placed]

    async def all_filled() -> bool:
        listed = await cluster.proxied.get(
            "/api/v1/orders", params={"status": "filled", "limit": 100}, headers=headers
        )
        return bool(listed.json()["total"] == len(ids))

    await wait_until(all_filled, within=10, interval=0.05, what="every order filled")
    trades = (
        await cluster.proxied.get("/api/v1/trades", params={"limit": 100}, headers=headers)
    ).json()["items"]
    assert sorted(trade["order_id"] for trade in trades) == sorted(ids)
    cost = sum(Decimal(t["price"]) * Decimal(t["quantity"]) for t in trades)
    commission = sum(Decimal(t["commission"]) for t in trades)
    [position] = (await cluster.proxied.get("/api/v1/positions", headers=headers)).json()
    assert Decimal(position["quantity"]) == len(ids)
    assert Decimal(position["avg_price"]) * len(ids) == cost
    account = (await cluster.proxied.get("/api/v1/account", headers=headers)).json()
    initial = Decimal("10000000")
    assert Decimal(account["balance"]) == initial - commission


async def owners(cluster: Cluster, strategy_id: int, headers: dict[str, str]) -> set[object]:
    """The owner each live replica reports for the strategy."""
    reports = set()
    for name, server in cluster.servers.items():
        assert server.process is not None
        if server.process.poll() is None:
            status = await cluster.clients[name].get(
                f"/api/v1/strategies/{strategy_id}/status", headers=headers
            )
            reports.add(status.json()["owner"] if status.status_code == 200 else None)
    return reports


def launches(cluster: Cluster, strategy_id: int) -> dict[str, int]:
    """How many times each replica started running the strategy (its `strategy_running`
    log lines, one JSON object each)."""

    def started(line: str) -> bool:
        if '"strategy_running"' not in line:
            return False
        entry = json.loads(line)
        return bool(entry["event"] == "strategy_running" and entry["strategy_id"] == strategy_id)

    return {
        name: sum(started(line) for line in server.log().splitlines())
        for name, server in cluster.servers.items()
    }


async def test_a_strategy_runs_once_and_moves_when_its_owner_is_killed(cluster: Cluster) -> None:
    admin = await login(cluster.proxied, *ADMIN)
    headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    body = {"name": "ma", "class_name": "MovingAverageStrategy", "symbol": "IF2412.CFFEX"}
    created = await cluster.proxied.post(
        "/api/v1/strategies", json={**body, "parameters": {}}, headers=headers
    )
    assert created.status_code == 201, created.text
    strategy_id = created.json()["id"]
    started = await cluster.proxied.post(f"/api/v1/strategies/{strategy_id}/start", headers=headers)
    assert started.status_code == 200, started.text

    async def one_owner() -> bool:
        reported = await owners(cluster, strategy_id, headers)
        return len(reported) == 1 and reported <= set(REPLICAS)

    await wait_until(one_owner, within=10, what="every replica agrees on one owner")
    (owner,) = await owners(cluster, strategy_id, headers)
    assert launches(cluster, strategy_id) == {name: int(name == owner) for name in REPLICAS}

    cluster.servers[str(owner)].signal(signal.SIGKILL)
    killed_at = time.monotonic()
    await cluster.servers[str(owner)].wait_exit(within=10)

    async def moved() -> bool:
        reported = await owners(cluster, strategy_id, headers)
        return len(reported) == 1 and reported <= set(REPLICAS) - {owner}

    await wait_until(moved, within=LEASE_SECONDS + 8, what="another replica took over")
    took_over = time.monotonic() - killed_at
    counts = launches(cluster, strategy_id)
    assert sum(counts.values()) == 2, counts
    assert counts[str(owner)] == 1, counts
    print(f"\nstrategy moved from {owner} in {took_over:.2f} s (lease {LEASE_SECONDS} s)")
    assert took_over < LEASE_SECONDS + 2
