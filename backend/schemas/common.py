"""Shapes shared by every area: pages of results, database id bounds, plain text."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, Field, StringConstraints

ItemT = TypeVar("ItemT")

PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 500

# The largest key of a BIGINT (orders, trades) and an INTEGER (users, strategies...) column.
BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1

# No C0 control characters, DEL or C1 controls. Names never need them, terminals and logs
# misread them, and PostgreSQL refuses NUL in text outright (a 500 if it got that far).
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f-\x9f]*$"
PlainText = Annotated[str, StringConstraints(pattern=NO_CONTROL_CHARACTERS)]


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: `{items, total, limit, offset}`."""

    items: list[ItemT]
    total: int = Field(ge=0)
    limit: int = Field(ge=1, le=PAGE_LIMIT_MAX)
    offset: int = Field(ge=0)
