"""UnitOfWork: after-commit actions run once the rows are committed, never after a rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.core.config import AppConfig
from backend.core.database import AsyncDatabaseManager
from backend.core.database.unit_of_work import UnitOfWork


class ScratchBase(DeclarativeBase):
    """A model outside the application's metadata, created and dropped by these tests."""


class Note(ScratchBase):
    __tablename__ = "scratch_unit_of_work_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(32))


class RefusedError(Exception):
    """The request failed after its rows were flushed."""


@pytest.fixture
async def database(make_config: Callable[..., AppConfig]) -> AsyncIterator[AsyncDatabaseManager]:
    manager = AsyncDatabaseManager(make_config().database)
    async with manager.engine.begin() as connection:
        await connection.run_sync(ScratchBase.metadata.create_all)
    yield manager
    async with manager.engine.begin() as connection:
        await connection.run_sync(ScratchBase.metadata.drop_all)
    await manager.dispose()


async def _stored(database: AsyncDatabaseManager) -> list[str]:
    async with database.session() as session:
        return list((await session.scalars(select(Note.text).order_by(Note.id))).all())


async def test_actions_run_after_the_commit_and_see_its_rows(
    database: AsyncDatabaseManager,
) -> None:
    seen: list[list[str]] = []

    async def record() -> None:  # reads through another session: only committed rows show
        seen.append(await _stored(database))

    async with database.unit_of_work() as work:
        work.session.add(Note(text="first"))
        await work.session.flush()
        work.after_commit(record)
        work.after_commit(record)
        assert seen == []  # registered, not run
    assert seen == [["first"], ["first"]]


async def test_actions_are_dropped_when_the_transaction_rolls_back(
    database: AsyncDatabaseManager,
) -> None:
    ran: list[str] = []

    async def act() -> None:
        ran.append("act")

    with pytest.raises(RefusedError):
        async with database.unit_of_work() as work:
            work.session.add(Note(text="lost"))
            await work.session.flush()
            work.after_commit(act)
            raise RefusedError
    assert ran == []
    assert await _stored(database) == []


async def test_a_commit_mid_way_runs_what_was_registered_before_it_only(
    database: AsyncDatabaseManager,
) -> None:
    ran: list[str] = []

    async def note(name: str) -> None:
        ran.append(name)

    with pytest.raises(RefusedError):
        async with database.unit_of_work() as work:
            work.session.add(Note(text="kept"))
            work.after_commit(lambda: note("committed"))
            await work.commit()
            work.session.add(Note(text="lost"))
            await work.session.flush()
            work.after_commit(lambda: note("rolled back"))
            raise RefusedError
    assert ran == ["committed"]
    assert await _stored(database) == ["kept"]


async def test_a_session_knows_its_unit_of_work(database: AsyncDatabaseManager) -> None:
    async with database.unit_of_work() as work:
        assert UnitOfWork.of(work.session) is work
        count = await work.session.scalar(select(func.count()).select_from(Note))
        assert count == 0
    async with database.session() as session:  # no one would run its actions: refused
        with pytest.raises(LookupError):
            UnitOfWork.of(session)
