"""Reference for the order benchmark: FastAPI and one asyncpg statement per request.

The least any order endpoint on this stack can do: validate the body, run one statement on a
pooled asyncpg connection (autocommit), answer JSON. No auth, no middleware, no risk, no
idempotency, no gateway. Its rows bound what RedFire can reach on the machine the benchmark
runs on: RedFire does all of those on top of at least this much.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response

from bench.order_body import OrderIn

URL = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
POOL: dict[str, asyncpg.Pool] = {}
TABLE = """
CREATE TABLE IF NOT EXISTS floor_orders (
    id BIGSERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    symbol VARCHAR(64) NOT NULL,
    side VARCHAR(4) NOT NULL,
    order_type VARCHAR(16) NOT NULL,
    quantity NUMERIC(24, 8) NOT NULL,
    price NUMERIC(24, 8),
    status VARCHAR(16) NOT NULL DEFAULT 'pending',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""
INSERT = """
INSERT INTO floor_orders (user_id, symbol, side, order_type, quantity, price)
VALUES (1, $1, $2, $3, $4, $5)
RETURNING row_to_json(floor_orders)::text"""
SELECT = "SELECT row_to_json(floor_orders)::text FROM floor_orders WHERE id = $1"


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    POOL["pool"] = await asyncpg.create_pool(URL, min_size=32, max_size=32)
    await POOL["pool"].execute(TABLE)
    yield
    await POOL["pool"].close()


app = FastAPI(lifespan=lifespan)


@app.post("/api/v1/orders", status_code=201)
async def create_order(order: OrderIn) -> Response:
    values = (order.symbol, order.side, order.order_type, order.quantity, order.price)
    row = await POOL["pool"].fetchval(INSERT, *values)
    return Response(row, status_code=201, media_type="application/json")


@app.get("/api/v1/orders/{order_id}")
async def read_order(order_id: int) -> Response:
    row = await POOL["pool"].fetchval(SELECT, order_id)
    if row is None:
        raise HTTPException(404)
    return Response(row, media_type="application/json")
