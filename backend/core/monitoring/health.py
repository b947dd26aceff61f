"""Health checks with measured latencies and short timeouts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from backend.core.monitoring.metrics import DEPENDENCY_UP

# A check returns extra fields for the report (may be empty) or raises when unhealthy.
HealthCheck = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(slots=True)
class _Registered:
    check: HealthCheck
    critical: bool
    timeout: float


class HealthRegistry:
    """Named dependency checks; a failing critical one makes the service unhealthy."""

    def __init__(self) -> None:
        self._checks: dict[str, _Registered] = {}

    def register(
        self, name: str, check: HealthCheck, *, critical: bool = False, timeout: float = 1.0
    ) -> None:
        """Add or replace a check."""
        self._checks[name] = _Registered(check, critical, timeout)

    async def check_one(self, name: str) -> dict[str, Any]:
        """Run one check: `{status, latency_ms, ...}`; never raises."""
        registered = self._checks[name]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(registered.timeout):
                extra = await registered.check()
        except Exception as exc:
            DEPENDENCY_UP.labels(dependency=name).set(0)
            error = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            return {
                "status": "unhealthy",
                "latency_ms": _millis(started),
                "error": error,
            }
        DEPENDENCY_UP.labels(dependency=name).set(1)
        return {"status": "healthy", "latency_ms": _millis(started), **extra}

    async def check_all(self) -> tuple[str, dict[str, dict[str, Any]]]:
        """Aggregate status (healthy / degraded / unhealthy) and each service's report."""
        names = list(self._checks)
        reports = await asyncio.gather(*(self.check_one(name) for name in names))
        services = dict(zip(names, reports, strict=True))
        unhealthy = [name for name, report in services.items() if report["status"] != "healthy"]
        if any(self._checks[name].critical for name in unhealthy):
            return "unhealthy", services
        return ("degraded" if unhealthy else "healthy"), services


def _millis(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
