"""Hand-bound arguments for the hottest endpoints: FastAPI's generic solving, skipped for a
request that is plainly valid.

FastAPI reads an endpoint's parameters generically on every request: it parses the
content type with the `email` package, walks the path, query, header and cookie parameters
(asking each time whether an annotation is a sequence) and validates the body through a
TypeAdapter. For placing an order that is about a fifth of the order's CPU (bench_orders).
An endpoint marked `@bound_by(binder)` has its route (api_route.ApiRoute) call
`binder(request)` instead: a reading of exactly that endpoint's parameters, which answers
the endpoint's keyword arguments, or None for anything it does not plainly accept (another
content type, a body or header that does not validate). FastAPI's own handler then runs on
the same request, its body already read, so every refusal and its error shape stay
FastAPI's; the binder only ever accepts what FastAPI would accept, as the same values.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from backend.api.deps.parameters import IDEMPOTENCY_KEY_CHARACTERS, IDEMPOTENCY_KEY_MAX_LENGTH
from backend.schemas.common import BIGINT_MAX

Arguments = dict[str, Any]
Binder = Callable[[Request], Awaitable[Arguments | None]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

_BINDER = "_redfire_binder"
# The Idempotency-Key header's rule, as deps/parameters.IdempotencyKey declares it.
_IDEMPOTENCY_KEY = re.compile(f"{IDEMPOTENCY_KEY_CHARACTERS}{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}")
_BIGINT_DIGITS = len(str(BIGINT_MAX))


def bound_by(binder: Binder) -> Callable[[Endpoint], Endpoint]:
    """Mark an endpoint whose arguments `binder` reads (the endpoint must answer a Response)."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _BINDER, binder)
        return endpoint

    return mark


def binder_of(endpoint: Callable[..., Any]) -> Binder | None:
    """The endpoint's binder, or None when FastAPI solves its arguments."""
    binder: Binder | None = getattr(endpoint, _BINDER, None)
    return binder


async def json_body(request: Request, model: type[BaseModel]) -> BaseModel | None:
    """The body as `model` when it is `application/json` that validates; else None."""
    if request.headers.get("content-type") != "application/json":
        return None  # absent, a charset or a +json type: FastAPI decides
    try:
        body = await request.body()
    except HTTPException:
        raise  # 413 from the body limit, as FastAPI re-raises it
    except Exception as exc:
        # What FastAPI answers when the body cannot be read (the stream is gone by now).
        raise HTTPException(400, "There was an error parsing the body") from exc
    if not body:
        return None
    try:
        return model.model_validate(await request.json())
    except (ValueError, RecursionError, ValidationError):
        return None  # not JSON, a repeated key, nested too deep, or not a valid `model`


def idempotency_key(request: Request) -> tuple[bool, str | None]:
    """(valid, key): the Idempotency-Key header, None when absent."""
    key = request.headers.get("idempotency-key")
    return key is None or _IDEMPOTENCY_KEY.fullmatch(key) is not None, key


def resource_id(request: Request, name: str) -> int | None:
    """The path parameter `name` as a ResourceId (1 to BIGINT_MAX), or None."""
    raw: str = request.path_params[name]
    if not (0 < len(raw) <= _BIGINT_DIGITS and raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 1 <= value <= BIGINT_MAX else None
