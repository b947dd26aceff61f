"""ReplicaRegistry: which replicas are alive, and settling what a departed one left behind.

Each replica writes its row in `replicas` when it starts and renews `heartbeat_at` every
`heartbeat_seconds`. A replica silent for `departed_after_seconds` is gone: Kubernetes
replaced its pod under a new name, so its own start-up reconciliation will never run, or it
died for good. A live replica then settles what it left open. The departure handlers (open
orders, unfinished backtests) run in one transaction that holds the departed row locked and
deletes it at the end (a unit of work: what must wait for the commit, such as handing adopted
research to the runner, registers with `UnitOfWork.of(session).after_commit`), so two
replicas never settle the same one, and a replica coming back
under the same name (a restart on the same host) waits for the settlement before it registers,
reconciles its own orders and trades again.

Heartbeats are written and compared on the database's clock (`database_now`), so a replica
whose host clock runs behind is not taken for silent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.config.sections import ReplicasConfig
from backend.core.database.clock import database_now
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.upsert import conflict_insert
from backend.core.monitoring.metrics import DEPARTED_REPLICAS, HEARTBEAT_LOST
from backend.models.replica import Replica

logger = structlog.get_logger(__name__)

# Settles, inside the sweeping transaction, what the named departed replica left behind.
DepartureHandler = Callable[[AsyncSession, str], Awaitable[None]]


async def write_replica(
    session: AsyncSession, name: str, *, heartbeat_at: datetime, started_at: datetime | None
) -> None:
    """Insert or update `name`'s row: its heartbeat, and its start unless None (kept)."""
    values = {"heartbeat_at": heartbeat_at}
    if started_at is not None:
        values["started_at"] = started_at
    statement = conflict_insert(session, Replica).values(
        id=name, started_at=started_at or heartbeat_at, heartbeat_at=heartbeat_at
    )
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))


class ReplicaRegistry:
    """This replica's heartbeat, and the sweep for departed ones (see module docstring)."""

    def __init__(
        self, database: AsyncDatabaseManager, config: ReplicasConfig, *, replica: str
    ) -> None:
        self.database = database
        self.config = config
        self.replica = replica
        self._handlers: list[DepartureHandler] = []
        self._task: asyncio.Task[None] | None = None
        # Set once the sweep at start has run (tests wait on it).
        self.first_sweep = asyncio.Event()

    def on_departure(self, handler: DepartureHandler) -> None:
        """Run `handler` for every departed replica, in the order registered."""
        self._handlers.append(handler)

    async def start(self) -> None:
        """Register, then beat and sweep in the background, the first sweep at once.

        The first sweep settles replicas that departed while none was watching (a whole
        Deployment replaced at once): however many orders they left, start-up does not wait.
        """
        await self.register()
        if self._task is None:
            self.first_sweep.clear()
            self._task = asyncio.create_task(self._run(), name="replica-heartbeat")

    async def stop(self) -> None:
        """Stop beating. No farewell: the same name coming back reconciles its own orders,
        and if it never does, the others settle them once the heartbeats have stopped."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def register(self) -> None:
        """Write this replica's row (a restart under the same name takes over its row)."""
        async with self.database.session() as session:
            now = await database_now(session)
            await write_replica(session, self.replica, heartbeat_at=now, started_at=now)

    async def beat(self) -> None:
        """Renew the heartbeat; re-register if another replica settled this one meanwhile."""
        async with self.database.session() as session:
            now = await database_now(session)
            result = await session.execute(
                update(Replica).where(Replica.id == self.replica).values(heartbeat_at=now)
            )
        if getattr(result, "rowcount", 1) == 0:
            # Silent past departed_after_seconds (the database unreachable, the process
            # paused): its open orders were settled as lost. Said loudly, then alive again.
            HEARTBEAT_LOST.inc()
            logger.error("replica_settled_while_alive", replica=self.replica)
            await self.register()

    async def sweep(self) -> list[str]:
        """Settle every departed replica no other replica is settling; return their names."""
        async with self.database.session() as session:
            cutoff = await database_now(session) - timedelta(
                seconds=self.config.departed_after_seconds
            )
            candidates = (
                await session.scalars(
                    select(Replica.id).where(
                        Replica.heartbeat_at < cutoff, Replica.id != self.replica
                    )
                )
            ).all()
        settled = []
        for departed in candidates:
            try:
                if await self._settle(departed, cutoff):
                    settled.append(departed)
            except Exception as exc:  # rolled back; the next sweep tries again
                logger.warning("departed_replica_not_settled", replica=departed, error=repr(exc))
        return settled

    async def _settle(self, departed: str, cutoff: datetime) -> bool:
        async with self.database.unit_of_work() as work:
            session = work.session
            locked = await session.scalar(
                select(Replica.id)
                .where(Replica.id == departed, Replica.heartbeat_at < cutoff)
                .with_for_update(skip_locked=True)
            )
            if locked is None:  # back meanwhile, or another replica is settling it
                return False
            for handler in self._handlers:
                await handler(session, departed)
            await session.execute(delete(Replica).where(Replica.id == departed))
        DEPARTED_REPLICAS.inc()
        logger.warning("departed_replica_settled", replica=departed, by=self.replica)
        return True

    async def _run(self) -> None:
        try:
            await self.sweep()
        except Exception as exc:  # the database is away: the next heartbeat sweeps again
            logger.warning("replica_sweep_failed", error=repr(exc))
        finally:
            self.first_sweep.set()
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            try:
                await self.beat()
                await self.sweep()
            except Exception as exc:  # the database is away: beat again next time
                logger.warning("replica_heartbeat_failed", error=repr(exc))
