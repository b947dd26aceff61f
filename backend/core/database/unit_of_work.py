"""UnitOfWork: a session whose side effects wait for its commit.

A service changes rows (flushing, never committing) and registers what must happen only once
they are visible to every other session and replica (stop a strategy, cancel orders, drop a
cached access state, refill the shared cache, hand a backtest to the runner) with
`after_commit`. The owner of the transaction (the request, through `AsyncDatabaseManager.
unit_of_work`) commits; the registered actions then run in order. A rollback drops them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

AfterCommit = Callable[[], Awaitable[object]]
_INFO_KEY = "redfire.unit_of_work"


class UnitOfWork:
    """One session and the actions waiting for its next successful commit."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._pending: list[AfterCommit] = []
        session.info[_INFO_KEY] = self

    @staticmethod
    def of(session: AsyncSession) -> UnitOfWork:
        """The unit of work `session` belongs to; LookupError for a session outside one (its
        actions would never run)."""
        found = session.info.get(_INFO_KEY)
        if not isinstance(found, UnitOfWork):
            raise LookupError("the session does not belong to a unit of work")
        return found

    def after_commit(self, action: AfterCommit) -> None:
        """Run `action` once the transaction commits; never if it rolls back."""
        self._pending.append(action)

    async def commit(self) -> None:
        """Commit, then run the actions registered so far, in order (the session stays usable).

        Called by the transaction's owner; a service calls it mid-way only where what follows
        needs the rows committed (its answer depends on what the actions did).
        """
        await self.session.commit()
        actions, self._pending = self._pending, []
        for action in actions:
            await action()

    async def rollback(self) -> None:
        """Roll back and drop every action waiting for the commit."""
        self._pending.clear()
        await self.session.rollback()
