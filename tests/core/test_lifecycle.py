"""ApplicationLifecycleManager: order, rollback on failure, timeouts, sync and async hooks."""

from __future__ import annotations

import asyncio
import threading

import pytest

from backend.core.lifecycle import ApplicationLifecycleManager, LifecycleState


async def test_starts_in_order_and_stops_in_reverse() -> None:
    calls: list[str] = []
    manager = ApplicationLifecycleManager()

    async def start_a() -> None:
        calls.append("start a")

    def start_b() -> None:  # sync hooks are supported
        calls.append("start b")

    async def stop_a() -> None:
        calls.append("stop a")

    def stop_b() -> None:
        calls.append("stop b")

    manager.register("a", start=start_a, stop=stop_a)
    manager.register("b", start=start_b, stop=stop_b)
    assert manager.get_state() is LifecycleState.INITIALIZING
    await manager.startup()
    assert manager.get_state() is LifecycleState.RUNNING
    await manager.shutdown()
    assert manager.get_state() is LifecycleState.STOPPED
    assert calls == ["start a", "start b", "stop b", "stop a"]


async def test_add_hook_helpers_keep_the_guide_api() -> None:
    calls: list[str] = []
    manager = ApplicationLifecycleManager()
    manager.add_startup_hook(lambda: calls.append("up"))
    manager.add_shutdown_hook(lambda: calls.append("down"))
    await manager.startup()
    await manager.shutdown()
    assert calls == ["up", "down"]


async def test_failed_startup_stops_what_started_and_propagates() -> None:
    calls: list[str] = []
    manager = ApplicationLifecycleManager()

    async def boom() -> None:
        raise RuntimeError("gateway refused")

    manager.register(
        "db", start=lambda: calls.append("db up"), stop=lambda: calls.append("db down")
    )
    manager.register("gateway", start=boom, stop=lambda: calls.append("gateway down"))
    manager.register("later", start=lambda: calls.append("later up"))
    with pytest.raises(RuntimeError, match="gateway refused"):
        await manager.startup()
    assert manager.get_state() is LifecycleState.ERROR
    assert calls == ["db up", "db down"]


async def test_hook_timeout_fails_startup() -> None:
    manager = ApplicationLifecycleManager(default_timeout=0.05)
    never = asyncio.Event()

    async def hangs() -> None:
        await never.wait()

    manager.register("hangs", start=hangs)
    with pytest.raises(TimeoutError):
        await manager.startup()
    assert manager.get_state() is LifecycleState.ERROR


async def test_shutdown_runs_every_hook_even_if_one_fails() -> None:
    calls: list[str] = []
    manager = ApplicationLifecycleManager()

    def failing_stop() -> None:
        raise RuntimeError("close failed")

    manager.register("a", stop=lambda: calls.append("a down"))
    manager.register("b", stop=failing_stop)
    await manager.startup()
    await manager.shutdown()
    assert calls == ["a down"]
    assert manager.get_state() is LifecycleState.ERROR


async def test_sync_hooks_run_off_the_event_loop() -> None:
    threads: list[threading.Thread] = []
    manager = ApplicationLifecycleManager()
    manager.register("sync", start=lambda: threads.append(threading.current_thread()))
    await manager.startup()
    assert threads[0] is not threading.main_thread()
