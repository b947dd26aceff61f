"""All routers, assembled: operations at the root, the API under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api import (
    admin,
    auth,
    backtests,
    health,
    market,
    orders,
    strategies,
    trades,
    users,
    ws,
)
from backend.api.responses import ANY_REQUEST_ERRORS, API_ERRORS

operations_router = APIRouter(responses=ANY_REQUEST_ERRORS)
operations_router.include_router(health.router)

api_router = APIRouter(prefix="/api/v1", responses=API_ERRORS)
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(orders.router)
api_router.include_router(trades.router)
api_router.include_router(strategies.router)
api_router.include_router(backtests.router)
api_router.include_router(admin.router)
api_router.include_router(market.router)
api_router.include_router(ws.router)
