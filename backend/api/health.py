"""Operations endpoints: /health, /health/live, /health/ready, /metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.api.deps import ContainerDep
from backend.core.lifecycle.manager import LifecycleState
from backend.core.monitoring.metrics import APP_READY

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Aggregate health of the service and its dependencies")
async def health(container: ContainerDep) -> JSONResponse:
    """healthy, degraded (a non-critical dependency is down) or unhealthy (503)."""
    status, services = await container.health.check_all()
    body: dict[str, Any] = {
        "status": status,
        "timestamp": datetime.now(UTC).isoformat(),
        "version": container.config.version,
        "lifecycle": container.lifecycle.get_state().value,
        "replica": container.config.replica_id,
        "services": services,
    }
    return JSONResponse(body, status_code=503 if status == "unhealthy" else 200)


@router.get("/health/live", summary="The process is alive (no dependency checked)")
async def live(container: ContainerDep) -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "alive", "lifecycle": container.lifecycle.get_state().value}


@router.get("/health/ready", summary="Ready for traffic: started and the database answers")
async def ready(container: ContainerDep) -> JSONResponse:
    """503 until start-up completed and while the database is down."""
    state = container.lifecycle.get_state()
    database = await container.health.check_one("database")
    is_ready = state is LifecycleState.RUNNING and database["status"] == "healthy"
    APP_READY.set(1 if is_ready else 0)
    body = {
        "status": "ready" if is_ready else "not_ready",
        "lifecycle": state.value,
        "database": database,
    }
    return JSONResponse(body, status_code=200 if is_ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(container: ContainerDep) -> Response:
    """Prometheus text exposition."""
    container.database.record_pool_metrics()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
