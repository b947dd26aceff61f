"""Paging, path ids and the Idempotency-Key header, bounded so a bad value is 422, never a 500."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Query

from backend.schemas.common import BIGINT_MAX, INTEGER_MAX, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX


@dataclass(frozen=True, slots=True)
class PageParams:
    """Which slice of a list to answer."""

    limit: int
    offset: int


async def get_page_params(
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
) -> PageParams:
    """`limit` (1-500, default 50) and `offset` (>= 0; SQL's OFFSET is a BIGINT)."""
    return PageParams(limit=limit, offset=offset)


PageParamsDep = Annotated[PageParams, Depends(get_page_params)]

# Database ids in paths: positive and within the key column's type, so a bad id is 422, never a
# 500 (PostgreSQL refuses an out-of-range parameter). ResourceId: BIGINT keys (orders, trades);
# IntegerId: INTEGER keys (users, strategies, backtests).
ResourceId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
IntegerId = Annotated[int, Path(ge=1, le=INTEGER_MAX)]

# The Idempotency-Key's rule, also read by the order endpoints' binder (api/binding.py).
IDEMPOTENCY_KEY_CHARACTERS = r"[\x20-\x7e]"  # printable ASCII
IDEMPOTENCY_KEY_MAX_LENGTH = 255
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        pattern=f"^{IDEMPOTENCY_KEY_CHARACTERS}+$",
        description="Replays the first answer for retries of the same request (24 h).",
    ),
]
