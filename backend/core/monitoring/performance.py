"""performance_monitor: time any callable, sync or async, into a histogram and the log."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import structlog

from backend.core.monitoring.metrics import FUNCTION_DURATION

logger = structlog.get_logger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def _record(name: str, started: float, outcome: str) -> None:
    elapsed = time.perf_counter() - started
    FUNCTION_DURATION.labels(function=name, outcome=outcome).observe(elapsed)
    logger.debug("function_timed", function=name, outcome=outcome, seconds=round(elapsed, 6))


def performance_monitor(func: F) -> F:
    """Record the duration and outcome (ok/error) of every call to `func`."""
    name = f"{func.__module__}.{func.__qualname__}"

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = await func(*args, **kwargs)
            except BaseException:
                _record(name, started, "error")
                raise
            _record(name, started, "ok")
            return result

        return cast(F, async_wrapper)

    @functools.wraps(func)
    def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = func(*args, **kwargs)
        except BaseException:
            _record(name, started, "error")
            raise
        _record(name, started, "ok")
        return result

    return cast(F, sync_wrapper)
