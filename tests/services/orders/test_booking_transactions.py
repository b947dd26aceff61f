"""The bookings' transactions: the next one begun while the current one commits, only while
orders wait, and used, ended or replaced as it should be (intake/transactions.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select, text

from backend.app.container import AppContainer
from backend.core.database.driver import begin_transaction
from backend.models.enums import UserRole
from backend.models.user import User
from backend.services.orders.intake import transactions
from backend.services.orders.intake.transactions import BookingTransactions

IDLE_IN_TRANSACTION = text(
    "SELECT pid FROM pg_stat_activity"
    " WHERE datname = current_database() AND state = 'idle in transaction'"
)


def _user(name: str) -> User:
    return User(
        username=name,
        email=f"{name}@example.com",
        hashed_password="x",
        role=UserRole.TRADER,
        is_active=True,
    )


async def _stored(container: AppContainer, *names: str) -> set[str]:
    async with container.database.session() as session:
        found = await session.scalars(select(User.username).where(User.username.in_(names)))
        return set(found)


async def _idle_in_transaction(container: AppContainer) -> set[int]:
    async with container.database.session() as session:
        return set(await session.scalars(IDLE_IN_TRANSACTION))


async def _begun_ahead(container: AppContainer, within: float = 10.0) -> set[int]:
    """The sessions idle in transaction, once there is one (the one begun ahead)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if pids := await _idle_in_transaction(container):
            return pids
        await asyncio.sleep(0.01)
    raise AssertionError("no transaction was begun ahead")


def _postgresql(container: AppContainer) -> None:
    if not container.database.uses_asyncpg:
        pytest.skip("begun ahead on PostgreSQL only (SQLite: one writer): needs TEST_DATABASE_URL")


async def test_the_next_transaction_is_begun_while_one_commits_when_orders_wait(
    container: AppContainer,
) -> None:
    _postgresql(container)
    queued = [True]
    bookings = BookingTransactions(container.database, lambda: queued[0])
    async with bookings.transaction() as session:
        session.add(_user("ahead-1"))
    ahead = await _begun_ahead(container)
    queued[0] = False
    async with bookings.transaction() as session:
        driver = await begin_transaction(session)
        used = driver.get_server_pid()
        session.add(_user("ahead-2"))
    assert used in ahead  # the second booking ran in the transaction begun ahead
    assert await _stored(container, "ahead-1", "ahead-2") == {"ahead-1", "ahead-2"}
    assert await _idle_in_transaction(container) == set()  # nothing waited: none begun ahead


async def test_a_transaction_begun_ahead_is_ended_when_stale_or_closed(
    container: AppContainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _postgresql(container)
    bookings = BookingTransactions(container.database, lambda: True)
    async with bookings.transaction() as session:
        session.add(_user("stale-1"))
    stale = await _begun_ahead(container)
    monkeypatch.setattr(transactions, "BEGUN_AHEAD_MAX_AGE", 0.0)
    async with bookings.transaction() as session:
        driver = await begin_transaction(session)
        used = driver.get_server_pid()
        session.add(_user("stale-2"))
    assert used not in stale  # too old: ended, and a fresh one used
    assert await _stored(container, "stale-1", "stale-2") == {"stale-1", "stale-2"}
    await _begun_ahead(container)  # orders still wait: begun ahead again
    await bookings.close()
    assert await _idle_in_transaction(container) == set()


async def test_a_failed_booking_rolls_back_and_begins_nothing_ahead(
    container: AppContainer,
) -> None:
    bookings = BookingTransactions(container.database, lambda: True)
    with pytest.raises(RuntimeError, match="refused"):
        async with bookings.transaction() as session:
            session.add(_user("failed-1"))
            await session.flush()
            raise RuntimeError("refused")
    assert await _stored(container, "failed-1") == set()
    async with bookings.transaction() as session:  # the next booking starts afresh
        session.add(_user("failed-2"))
    await bookings.close()
    assert await _stored(container, "failed-2") == {"failed-2"}
