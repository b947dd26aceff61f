"""Annotated dependency aliases used by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.cache.protocol import Cache
from backend.core.config.settings import AppConfig
from backend.core.container import AppContainer


def get_container(request: Request) -> AppContainer:
    """The application's components."""
    container: AppContainer = request.app.state.container
    return container


ContainerDep = Annotated[AppContainer, Depends(get_container)]


def get_config(container: ContainerDep) -> AppConfig:
    """The application's configuration."""
    return container.config


def get_cache(container: ContainerDep) -> Cache:
    """The shared cache."""
    return container.cache


async def get_session(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the endpoint returns, rolled back on error.

    Declared with scope="function" so the commit happens before the response is sent: a
    client never receives a 201 for a row that failed to commit.
    """
    async with container.database.session() as session:
        yield session


ConfigDep = Annotated[AppConfig, Depends(get_config)]
CacheDep = Annotated[Cache, Depends(get_cache)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
