"""cache_result: memoise an async function in the shared cache under a stable key."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from backend.core.cache.protocol import Cache

P = ParamSpec("P")
R = TypeVar("R")


def cache_key(key_prefix: str, func: Callable[..., Any], args: Any, kwargs: Any) -> str:
    """Same arguments -> same key in every process (unlike `hash()`, which is salted)."""
    payload = json.dumps([args, kwargs], sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(payload.encode()).hexdigest()[:32]
    return f"{key_prefix or func.__module__}:{func.__qualname__}:{digest}"


def cache_result(
    cache: Callable[[], Cache] | Cache, expire: float = 3600, key_prefix: str = ""
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Cache an async function's JSON-serialisable result for `expire` seconds."""

    def decorator(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            store = cache if isinstance(cache, Cache) else cache()
            key = cache_key(key_prefix, func, args, kwargs)
            cached = await store.get(key)
            if cached is not None:
                return cached  # type: ignore[no-any-return]
            result = await func(*args, **kwargs)
            await store.set(key, result, expire)
            return result

        return wrapper

    return decorator
