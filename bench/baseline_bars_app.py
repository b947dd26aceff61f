"""Baseline for GET /market/bars: FastAPI + SQLAlchemy ORM + pydantic, as tutorials write it.

The same rows of the same table (RedFire's market_bars), one session per request from a
dependency, ORM objects validated into a response model and serialized by FastAPI. No auth.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from backend.models.market import MarketBar

engine = create_async_engine(os.environ["DATABASE_URL"], pool_size=20, max_overflow=0)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


class BarOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    datetime: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    turnover: Decimal
    open_interest: Decimal


async def get_session() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


@app.get("/bars", response_model=list[BarOut])
async def bars(
    symbol: str,
    start: datetime,
    end: datetime,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> list[MarketBar]:
    rows = await session.scalars(
        select(MarketBar)
        .where(MarketBar.symbol == symbol, MarketBar.interval == "1m",
               MarketBar.datetime >= start, MarketBar.datetime < end)
        .order_by(MarketBar.datetime)
    )  # fmt: skip
    return list(rows)
