"""Baseline for the order benchmark: FastAPI + SQLAlchemy ORM the way most tutorials write it.

One session per request from a dependency, one ORM insert of the same order row, commit,
refresh, answer; a read is `session.get` of the row. No auth, no validation against contracts,
no risk, no gateway.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import ConfigDict
from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench.order_body import OrderIn

engine = create_async_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=20)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class BaselineOrder(Base):
    __tablename__ = "baseline_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(Numeric(24, 8))
    price: Mapped[Decimal | None] = mapped_column(Numeric(24, 8))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


class OrderOut(OrderIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    created_at: datetime


async def get_session() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


app = FastAPI()


@app.on_event("startup")
async def create_table() -> None:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)


@app.post("/api/v1/orders", status_code=201, response_model=OrderOut)
async def create_order(
    order: OrderIn, session: Annotated[AsyncSession, Depends(get_session)]
) -> BaselineOrder:
    row = BaselineOrder(user_id=1, **order.model_dump())
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return row


@app.get("/api/v1/orders/{order_id}", response_model=OrderOut)
async def read_order(
    order_id: int, session: Annotated[AsyncSession, Depends(get_session)]
) -> BaselineOrder:
    row = await session.get(BaselineOrder, order_id)
    if row is None:
        raise HTTPException(404)
    return row
