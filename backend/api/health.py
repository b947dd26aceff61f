"""Operations endpoints: /health, /health/live, /health/ready, /metrics.

In production `/health` shows its status only, unless an admin asks or `HEALTH__DETAILS`
says so, and `/metrics` wants `METRICS__TOKEN` as a bearer token (core/config/exposure.py).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.api.api_route import ApiRoute
from backend.api.deps.connection import ConfigDep, DatabaseDep
from backend.api.deps.identity import BearerToken
from backend.api.deps.platform import HealthDep, LifecycleDep
from backend.api.deps.services import AccessGuardDep
from backend.api.responses import error_responses
from backend.core.errors import AuthenticationError
from backend.core.lifecycle.manager import LifecycleState
from backend.core.monitoring.metrics import APP_READY
from backend.models.enums import UserRole
from backend.services.auth.access import AccessGuard

router = APIRouter(tags=["operations"], route_class=ApiRoute)


async def _is_admin(access: AccessGuard, token: str | None) -> bool:
    if token is None:
        return False
    try:
        principal = await access.principal(token)
    except Exception:  # a bad token, or Redis or the database down: the status still answers
        return False
    return principal.role is UserRole.ADMIN


@router.get("/health", summary="Aggregate health of the service and its dependencies")
async def health(
    checks: HealthDep,
    config: ConfigDep,
    lifecycle: LifecycleDep,
    access: AccessGuardDep,
    token: BearerToken,
) -> JSONResponse:
    """healthy, degraded (a non-critical dependency is down) or unhealthy (503).

    Each dependency's latency, the replica and the lifecycle are shown outside production, to
    admins, or with HEALTH__DETAILS=true; otherwise only the status.
    """
    status, services = await checks.check_all()
    code = 503 if status == "unhealthy" else 200
    if not config.health_details and not await _is_admin(access, token):
        return JSONResponse({"status": status}, status_code=code)
    body: dict[str, Any] = {
        "status": status,
        "timestamp": datetime.now(UTC).isoformat(),
        "version": config.version,
        "lifecycle": lifecycle.get_state().value,
        "replica": config.replica_id,
        "services": services,
    }
    return JSONResponse(body, status_code=code)


@router.get("/health/live", summary="The process is alive (no dependency checked)")
async def live(lifecycle: LifecycleDep) -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "alive", "lifecycle": lifecycle.get_state().value}


@router.get("/health/ready", summary="Ready for traffic: started and the database answers")
async def ready(checks: HealthDep, config: ConfigDep, lifecycle: LifecycleDep) -> JSONResponse:
    """503 until start-up completed and while the database is down."""
    state = lifecycle.get_state()
    database = await checks.check_one("database")
    is_ready = state is LifecycleState.RUNNING and database["status"] == "healthy"
    APP_READY.set(1 if is_ready else 0)
    body: dict[str, Any] = {
        "status": "ready" if is_ready else "not_ready",
        "lifecycle": state.value,
    }
    if config.health_details:
        body["database"] = database
    return JSONResponse(body, status_code=200 if is_ready else 503)


async def require_metrics_token(request: Request, config: ConfigDep) -> None:
    """Open outside production without a token; otherwise `Authorization: Bearer <token>`."""
    if config.metrics_open:
        return
    expected = config.metrics.token
    scheme, _, supplied = request.headers.get("authorization", "").partition(" ")
    if (
        expected is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(supplied.encode(), expected.get_secret_value().encode())
    ):
        raise AuthenticationError("a metrics token is required", code="not_authenticated")


@router.get(
    "/metrics",
    summary="Prometheus metrics (METRICS__TOKEN as a bearer token, when set)",
    response_class=Response,
    dependencies=[Depends(require_metrics_token)],
    responses=error_responses(401),
)
async def metrics(database: DatabaseDep) -> Response:
    """Prometheus text exposition."""
    database.record_pool_metrics()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
