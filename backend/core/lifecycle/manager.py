"""ApplicationLifecycleManager: ordered start-up hooks, reverse shutdown, per-hook timeouts."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import structlog

logger = structlog.get_logger(__name__)

Hook = Callable[[], Awaitable[object] | object]


class LifecycleState(StrEnum):
    """Where the application is in its life."""

    INITIALIZING = "initializing"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"


@dataclass(slots=True)
class _Component:
    name: str
    start: Hook | None
    stop: Hook | None
    timeout: float


class ApplicationLifecycleManager:
    """Starts components in registration order and stops the started ones in reverse."""

    def __init__(self, default_timeout: float = 30.0) -> None:
        self.state = LifecycleState.INITIALIZING
        self.default_timeout = default_timeout
        self._components: list[_Component] = []
        self._started: list[_Component] = []

    def register(
        self,
        name: str,
        *,
        start: Hook | None = None,
        stop: Hook | None = None,
        timeout: float | None = None,
    ) -> None:
        """Add a component; `stop` runs only if its `start` completed (or it has none)."""
        self._components.append(_Component(name, start, stop, timeout or self.default_timeout))

    def add_startup_hook(self, hook: Hook, *, name: str | None = None) -> None:
        """Run `hook` at start-up, after the hooks registered before it."""
        self.register(name or _hook_name(hook), start=hook)

    def add_shutdown_hook(self, hook: Hook, *, name: str | None = None) -> None:
        """Run `hook` at shutdown, before the hooks registered before it."""
        self.register(name or _hook_name(hook), stop=hook)

    def get_state(self) -> LifecycleState:
        """The current state."""
        return self.state

    async def startup(self) -> None:
        """Start every component; on failure stop the started ones and re-raise."""
        self.state = LifecycleState.STARTING
        logger.info("lifecycle_starting", components=len(self._components))
        for component in self._components:
            if component.start is not None:
                try:
                    await _run(component.start, component.timeout)
                except BaseException as exc:
                    self.state = LifecycleState.ERROR
                    logger.error("startup_hook_failed", hook=component.name, error=repr(exc))
                    await self._stop_started()
                    self.state = LifecycleState.ERROR
                    raise
            self._started.append(component)
        self.state = LifecycleState.RUNNING
        logger.info("lifecycle_running")

    async def shutdown(self) -> None:
        """Stop started components in reverse order; every hook runs even if one fails."""
        if self.state in (LifecycleState.STOPPED, LifecycleState.STOPPING):
            return
        self.state = LifecycleState.STOPPING
        failed = await self._stop_started()
        self.state = LifecycleState.ERROR if failed else LifecycleState.STOPPED
        logger.info("lifecycle_stopped", failed_hooks=failed)

    async def _stop_started(self) -> int:
        failed = 0
        while self._started:
            component = self._started.pop()
            if component.stop is None:
                continue
            try:
                await _run(component.stop, component.timeout)
            except Exception as exc:
                failed += 1
                logger.error("shutdown_hook_failed", hook=component.name, error=repr(exc))
            else:
                logger.info("component_stopped", hook=component.name)
        return failed


async def _run(hook: Hook, limit: float) -> None:
    """Await an async hook, or run a sync one in a worker thread, within `limit` seconds."""
    async with asyncio.timeout(limit):
        if inspect.iscoroutinefunction(hook):
            await hook()
            return
        result = await asyncio.to_thread(hook)
        if inspect.isawaitable(result):
            await result


def _hook_name(hook: Hook) -> str:
    return getattr(hook, "__qualname__", repr(hook))
