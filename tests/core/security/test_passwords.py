"""PasswordHasher: Argon2id, verified off the event loop."""

from __future__ import annotations

import asyncio
import time

from backend.core.config.settings import SecurityConfig
from backend.core.security.passwords import HashingBusyError, PasswordHasher

CHEAP = SecurityConfig(argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1)


async def test_hash_and_verify() -> None:
    hasher = PasswordHasher(CHEAP)
    try:
        first = await hasher.hash("correct horse")
        second = await hasher.hash("correct horse")
        assert first.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
        assert first != second  # salted
        assert await hasher.verify("correct horse", first)
        assert not await hasher.verify("Correct horse", first)
    finally:
        hasher.close()


async def test_weaker_hash_is_upgraded_on_verify() -> None:
    cheap = PasswordHasher(CHEAP)
    stronger = PasswordHasher(SecurityConfig(argon2_time_cost=2, argon2_memory_cost=2048))
    try:
        old = await cheap.hash("pw-to-upgrade")
        valid, new_hash = await stronger.verify_and_update("pw-to-upgrade", old)
        assert valid
        assert new_hash is not None
        assert new_hash.startswith("$argon2id$v=19$m=2048,t=2")
        assert await stronger.verify_and_update("pw-to-upgrade", new_hash) == (True, None)
    finally:
        cheap.close()
        stronger.close()


async def test_production_hashing_does_not_block_the_event_loop() -> None:
    hasher = PasswordHasher(SecurityConfig())  # production parameters: 64 MiB, t=3
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    try:
        started = time.perf_counter()
        hashed = await hasher.hash("a production password")
        await hasher.dummy_verify("unknown user's guess")
        assert await hasher.verify("a production password", hashed)
        elapsed = time.perf_counter() - started
    finally:
        done.set()
        await task
        hasher.close()
    assert elapsed > 0.05  # the work really was expensive...
    # ...yet the loop kept ticking: hashing on the loop would stall it for a whole hash, a
    # third of `elapsed`; relative, so a busy machine slowing both does not fail it.
    assert max(gaps) < elapsed / 6, (max(gaps), elapsed)
    assert len(gaps) > 10


async def test_hashes_beyond_the_workers_and_the_queue_are_refused_at_once() -> None:
    hasher = PasswordHasher(CHEAP, max_workers=1, max_waiting=1)
    try:
        # One hashes, one waits for the thread, the third is turned away without waiting.
        outcomes = await asyncio.gather(
            *(hasher.hash(f"password-{n}") for n in range(3)), return_exceptions=True
        )
        assert [type(outcome) for outcome in outcomes] == [str, str, HashingBusyError]
        refused = outcomes[2]
        assert isinstance(refused, HashingBusyError)
        assert (refused.status_code, refused.code, refused.headers) == (
            503,
            "busy",
            {"Retry-After": "1"},
        )
        assert hasher.admitted == 0
        assert await hasher.verify("password-0", str(outcomes[0]))  # free again
    finally:
        hasher.close()
