"""performance_monitor and the health registry."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from backend.core.monitoring.health import HealthRegistry
from backend.core.monitoring.performance import performance_monitor


def _count(function: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "redfire_function_duration_seconds_count", {"function": function, "outcome": outcome}
    )
    return value or 0.0


@performance_monitor
def settle(quantity: int) -> int:
    if quantity < 0:
        raise ValueError("negative quantity")
    return quantity * 2


@performance_monitor
async def settle_async(quantity: int) -> int:
    await asyncio.sleep(0)
    if quantity < 0:
        raise ValueError("negative quantity")
    return quantity * 2


@pytest.mark.parametrize("func", [settle, settle_async])
async def test_performance_monitor_times_sync_and_async_calls(func: object) -> None:
    name = f"{__name__}.{func.__qualname__}"  # type: ignore[attr-defined]
    ok_before, error_before = _count(name, "ok"), _count(name, "error")
    result = func(21)  # type: ignore[operator]
    if asyncio.iscoroutine(result):
        result = await result
    assert result == 42
    with pytest.raises(ValueError, match="negative"):
        failed = func(-1)  # type: ignore[operator]
        if asyncio.iscoroutine(failed):
            await failed
    assert _count(name, "ok") == ok_before + 1
    assert _count(name, "error") == error_before + 1


def test_performance_monitor_keeps_the_function_identity() -> None:
    assert settle.__name__ == "settle"
    assert asyncio.iscoroutinefunction(settle_async)


async def test_health_registry_aggregates_and_survives_exceptions() -> None:
    registry = HealthRegistry()
    stalled = asyncio.Event()

    async def ok() -> dict[str, object]:
        return {"backend": "test"}

    async def broken() -> dict[str, object]:
        raise ConnectionRefusedError("down")

    async def hangs() -> dict[str, object]:
        await stalled.wait()
        return {}

    registry.register("database", ok, critical=True)
    registry.register("redis", broken)
    registry.register("gateway", hangs, timeout=0.05)
    status, services = await registry.check_all()
    assert status == "degraded"
    assert services["database"]["status"] == "healthy"
    assert services["database"]["backend"] == "test"
    assert services["redis"] == {
        "status": "unhealthy",
        "latency_ms": services["redis"]["latency_ms"],
        "error": "ConnectionRefusedError",
    }
    assert services["gateway"]["error"] == "timeout"
    assert services["gateway"]["latency_ms"] >= 50

    registry.register("database", broken, critical=True)
    assert (await registry.check_all())[0] == "unhealthy"
