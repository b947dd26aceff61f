"""All routers, assembled: operations at the root, the API under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from backend.api import (
    admin,
    admin_api_keys,
    api_keys,
    auth,
    backtest_results,
    backtests,
    bar_import,
    bars,
    health,
    market,
    optimization_results,
    optimizations,
    order_controls,
    orders,
    performance,
    positions,
    signals,
    strategies,
    strategy_control,
    trades,
    users,
    webhooks,
    ws,
)
from backend.api.responses import ANY_REQUEST_ERRORS, API_ERRORS

# Included one by one, not through an /api/v1 router: FastAPI matches nested routers level by
# level on every request, so a flat list is cheaper. Orders first: the hot path. Each carries
# the /api/v1 prefix itself (see base_path.py).
API_ROUTERS: tuple[APIRouter, ...] = (
    orders.router,
    order_controls.router,
    trades.router,
    positions.router,
    performance.router,
    market.router,
    bars.router,
    bar_import.router,
    strategies.router,
    strategy_control.router,
    auth.router,
    users.router,
    backtests.router,
    backtest_results.router,
    optimizations.router,
    optimization_results.router,
    admin.router,
    api_keys.router,
    admin_api_keys.router,
    webhooks.router,
    signals.router,
    ws.router,
)


def include_routers(app: FastAPI) -> None:
    """The API under /api/v1 and the operations endpoints at the root (each router's routes
    are ApiRoutes: an unknown query parameter is 422, see api_route.py)."""
    for router in API_ROUTERS:
        app.include_router(router, responses=API_ERRORS)
    app.include_router(health.router, responses=ANY_REQUEST_ERRORS)
