"""Reference for the order benchmark: the framework alone, no database, no cache, no gateway.

FastAPI validating the same order body and echoing it: what one uvicorn worker can answer at
most on this machine, the ceiling every row of the table sits under.
"""

from __future__ import annotations

from fastapi import FastAPI

from bench.order_body import OrderIn

app = FastAPI()


@app.post("/api/v1/orders", status_code=201)
async def echo_order(order: OrderIn) -> OrderIn:
    return order
