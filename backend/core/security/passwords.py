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
from backend.core.errors import ServiceUnavailableError
from backend.core.monitoring.metrics import PASSWORD_HASHES_REFUSED

T = TypeVar("T")

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


class HashingBusyError(ServiceUnavailableError):
    """Every password-hashing slot and queue place is taken: try again in a moment."""

    code = "busy"

    def __init__(self) -> None:
        super().__init__("too many logins at once; retry in 1 s")

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": "1"}


class PasswordHasher:
    """Hash and verify passwords with Argon2id off the event loop.

    A dedicated pool bounds how many hashes run at once: each takes `argon2_memory_cost` KiB,
    so an unbounded burst of logins could otherwise exhaust memory. At most `max_waiting`
    more wait for a thread; any beyond are refused at once (503 `busy`), so a flood of
    logins costs the others a bounded wait instead of one that grows with the flood.
    """

    def __init__(
        self,
        config: SecurityConfig,
        *,
        max_workers: int | None = None,
        max_waiting: int | None = None,
    ) -> None:
        hasher = Argon2Hasher(
            time_cost=config.argon2_time_cost,
            memory_cost=config.argon2_memory_cost,
            parallelism=config.argon2_parallelism,
        )
        self._hash = PasswordHash((hasher,))
        self._workers = max_workers or config.password_hash_workers or max(2, os.cpu_count() or 2)
        self._max_waiting = config.password_hash_queue if max_waiting is None else max_waiting
        self._admitted = 0  # hashing or waiting for a thread
        self._executor: ThreadPoolExecutor | None = None
        self._dummy_hash: str | None = None

    @property
    def admitted(self) -> int:
        """Hashes running or waiting for a thread."""
        return self._admitted

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        if self._admitted >= self._workers + self._max_waiting:
            PASSWORD_HASHES_REFUSED.inc()
            raise HashingBusyError
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="argon2")
        self._admitted += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, function, *args)
        finally:
            self._admitted -= 1

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
