"""Shapes shared by every area: pages of results."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

ItemT = TypeVar("ItemT")

PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 500


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: `{items, total, limit, offset}`."""

    items: list[ItemT]
    total: int = Field(ge=0)
    limit: int = Field(ge=1, le=PAGE_LIMIT_MAX)
    offset: int = Field(ge=0)
