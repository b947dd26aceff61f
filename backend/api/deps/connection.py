"""The request's container, unit of work, configuration and client address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection
from sqlalchemy.ext.asyncio import AsyncSession

from backend.app.container import AppContainer
from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.unit_of_work import UnitOfWork
from backend.core.security import SecurityComponents


def container_of(connection: HTTPConnection) -> AppContainer:
    """The application's components: read by the dependencies, never by a router."""
    container: AppContainer = connection.app.state.container
    return container


async def get_session(connection: HTTPConnection) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: committed when the endpoint returns (its after-commit
    actions run then), rolled back on error (they are dropped).

    Declared with scope="function" so the commit happens before the response is sent: a
    client never receives a 201 for a row that failed to commit.
    """
    async with container_of(connection).database.unit_of_work() as work:
        yield work.session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_unit_of_work(session: SessionDep) -> UnitOfWork:
    """The request's session with its after-commit actions (the same session as SessionDep)."""
    return UnitOfWork.of(session)


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]


async def get_config(connection: HTTPConnection) -> AppConfig:
    """The application's configuration."""
    return container_of(connection).config


async def get_security(connection: HTTPConnection) -> SecurityComponents:
    """Hashing, tokens, revocation and rate limits."""
    return container_of(connection).security


async def get_database(connection: HTTPConnection) -> AsyncDatabaseManager:
    """The engine and its pool (for sessions outside a request's, and pool metrics)."""
    return container_of(connection).database


ConfigDep = Annotated[AppConfig, Depends(get_config)]
DatabaseDep = Annotated[AsyncDatabaseManager, Depends(get_database)]
SecurityDep = Annotated[SecurityComponents, Depends(get_security)]


async def get_client_ip(connection: HTTPConnection) -> str:
    """The client's address, from X-Forwarded-For only behind a trusted proxy."""
    peer = connection.client.host if connection.client else None
    resolver = container_of(connection).security.client_ip
    return resolver.resolve(peer, connection.headers.get("x-forwarded-for"))


ClientIPDep = Annotated[str, Depends(get_client_ip)]
