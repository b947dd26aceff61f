"""Argon2id password hashing, run in a bounded thread pool so the event loop never blocks."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from backend.core.config.settings import SecurityConfig

T = TypeVar("T")

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


class PasswordHasher:
    """Hash and verify passwords with Argon2id off the event loop.

    A dedicated pool bounds how many hashes run at once: each takes `argon2_memory_cost` KiB,
    so an unbounded burst of logins could otherwise exhaust memory.
    """

    def __init__(self, config: SecurityConfig, *, max_workers: int | None = None) -> None:
        hasher = Argon2Hasher(
            time_cost=config.argon2_time_cost,
            memory_cost=config.argon2_memory_cost,
            parallelism=config.argon2_parallelism,
        )
        self._hash = PasswordHash((hasher,))
        self._workers = max_workers or max(2, os.cpu_count() or 2)
        self._executor: ThreadPoolExecutor | None = None
        self._dummy_hash: str | None = None

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="argon2")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def hash(self, password: str) -> str:
        """The Argon2id hash of `password`."""
        return await self._run(self._hash.hash, password)

    async def verify(self, password: str, hashed: str) -> bool:
        """True if `password` matches `hashed`."""
        return await self._run(self._hash.verify, password, hashed)

    async def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """Verify, and return a new hash when `hashed` used weaker or other parameters."""
        return await self._run(self._hash.verify_and_update, password, hashed)

    async def dummy_verify(self, password: str) -> None:
        """Spend the time of a real verification, so unknown usernames cannot be timed apart."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        await self.verify(password, self._dummy_hash)

    def close(self) -> None:
        """Stop the worker threads (pending hashes finish first)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
