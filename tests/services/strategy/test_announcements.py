"""The engine announces each strategy's start, stop and errors to its owner (the WebSocket
`strategy` topic), naming the strategy and the replica."""

from __future__ import annotations

from typing import Any

from backend.app.container import AppContainer
from backend.models.enums import StrategyStatus
from tests.services.strategy.conftest import MakeEngine, MakeStrategy, stored
from tests.services.strategy.support import SYMBOL, tick, wait_for


class Owners:
    """What the engine published, per owner."""

    def __init__(self) -> None:
        self.events: list[tuple[int, dict[str, Any]]] = []

    def publish(self, user_id: int, data: dict[str, Any]) -> None:
        self.events.append((user_id, data))

    def of(self, strategy_id: int) -> list[tuple[int, str]]:
        return [(u, d["event"]) for u, d in self.events if d["strategy_id"] == strategy_id]


async def test_start_and_stop_are_announced_to_the_owner(
    container: AppContainer, make_engine: MakeEngine, make_strategy: MakeStrategy, user_id: int
) -> None:
    strategy_id = await make_strategy("TickCounter")
    owners = Owners()
    engine = make_engine(publish=owners.publish)
    await engine.start()
    assert owners.events == [
        (
            user_id,
            {
                "strategy_id": strategy_id,
                "symbol": SYMBOL,
                "class_name": "TickCounter",
                "event": "started",
                "replica": "replica-a",
            },
        )
    ]
    await engine.stop_strategy(strategy_id)
    assert owners.of(strategy_id) == [(user_id, "started"), (user_id, "stopped")]


async def test_a_strategy_that_cannot_start_is_announced_as_an_error(
    container: AppContainer, make_engine: MakeEngine, make_strategy: MakeStrategy, user_id: int
) -> None:
    broken = await make_strategy("BrokenInitStrategy")
    owners = Owners()
    await make_engine(publish=owners.publish).start()
    [(owner, error)] = owners.events
    assert owner == user_id
    assert (error["event"], error["message"]) == ("error", "RuntimeError: no market data")
    assert (await stored(container, broken)).last_error == error["message"]


async def test_a_strategy_failing_while_it_runs_is_announced_as_an_error(
    container: AppContainer, make_engine: MakeEngine, make_strategy: MakeStrategy, user_id: int
) -> None:
    exploding = await make_strategy("ExplodingStrategy")
    owners = Owners()
    engine = make_engine(publish=owners.publish)
    await engine.start()
    for price in range(1, 5):
        await engine.on_tick(tick(price))

    async def errored() -> bool:
        return (await stored(container, exploding)).status is StrategyStatus.ERROR

    await wait_for(errored)
    assert owners.of(exploding) == [(user_id, "started"), (user_id, "error")]
    assert owners.events[-1][1]["message"] == "ZeroDivisionError: boom on tick 3"
