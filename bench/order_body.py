"""The order body the reference apps of the order benchmark accept: tutorial-style, untyped."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel


class OrderIn(BaseModel):
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None = None
