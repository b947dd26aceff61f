"""All routers, assembled: operations at the root, the API under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api import health

operations_router = APIRouter()
operations_router.include_router(health.router)

api_router = APIRouter(prefix="/api/v1")
