"""`redfire replicas`: every replica with its heartbeat and open orders; mark one departed.

Marking is for a replica that will never beat again but is not settled automatically: one
that stopped before replicas kept heartbeats (it has no row), or one an operator knows is gone
and does not want to wait for. The mark only backdates its heartbeat: the next sweep of a live
replica settles it against that replica's own gateways, as for any departed one.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.core.config.settings import AppConfig
from backend.core.database.clock import database_now
from backend.core.database.manager import AsyncDatabaseManager
from backend.models.replica import Replica
from backend.services.orders import repository
from backend.services.replicas.registry import write_replica

# A heartbeat long before any live one: departed for every configuration.
DEPARTED_MARK = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """A replica as the database knows it."""

    name: str
    state: str  # alive, departed (settled on the next sweep) or unregistered
    heartbeat_age: timedelta | None
    open_orders: int


async def replica_states(
    database: AsyncDatabaseManager, departed_after: timedelta
) -> list[ReplicaState]:
    """Every replica with a row or with open orders, by name."""
    async with database.session() as session:
        now = await database_now(session)  # the clock the heartbeats are written on
        # .all(): a Result has keys() (its columns), which dict() would take for a mapping.
        beats = dict((await session.execute(select(Replica.id, Replica.heartbeat_at))).all())
        open_orders = await repository.open_orders_per_replica(session)
    states = []
    for name in sorted(beats.keys() | open_orders.keys()):
        beat = beats.get(name)
        age = None if beat is None else now - beat
        state = "unregistered" if age is None else "alive" if age < departed_after else "departed"
        states.append(ReplicaState(name, state, age, int(open_orders.get(name, 0))))
    return states


async def mark_departed(database: AsyncDatabaseManager, name: str) -> None:
    """Backdate `name`'s heartbeat so that the next sweep of a live replica settles it."""
    async with database.session() as session:
        await write_replica(session, name, heartbeat_at=DEPARTED_MARK, started_at=None)


async def _run(config: AppConfig, departed: str | None) -> int:
    database = AsyncDatabaseManager(config.database)
    departed_after = timedelta(seconds=config.replicas.departed_after_seconds)
    try:
        states = {state.name: state for state in await replica_states(database, departed_after)}
        if departed is None:
            print(f"{'replica':<40} {'state':<13} {'heartbeat':>12} {'open orders':>12}")
            for state in states.values():
                beat = state.heartbeat_age
                age = "-" if beat is None else f"{beat.total_seconds():.0f} s ago"
                print(f"{state.name:<40} {state.state:<13} {age:>12} {state.open_orders:>12}")
            return 0
        if departed in states and states[departed].state == "alive":
            print(
                f"redfire: {departed} is alive (it beat within "
                f"{departed_after.total_seconds():.0f} s); stop it first",
                file=sys.stderr,
            )
            return 1
        await mark_departed(database, departed)
        print(f"marked {departed} departed: the next sweep of a live replica settles it")
        return 0
    finally:
        await database.dispose()


def replicas_command(config: AppConfig, *, departed: str | None) -> int:
    """List the replicas, or mark one departed."""
    return asyncio.run(_run(config, departed))
