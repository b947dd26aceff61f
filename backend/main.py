"""RedFire application factory; `uvicorn backend.main:app` serves the module-level app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from backend.api.base_path import API_PREFIX
from backend.api.docs import install_docs
from backend.api.errors import install_error_handlers
from backend.api.openapi import install_openapi
from backend.api.route_table import include_routers
from backend.app.wiring import build_container
from backend.core.config import AppConfig, config_manager
from backend.core.lifecycle.collector import serving_collector
from backend.core.monitoring.access_log import flush_access_log
from backend.core.monitoring.logging import configure_logging
from backend.core.monitoring.metrics import APP_INFO
from backend.core.monitoring.middleware import RequestContextMiddleware
from backend.core.security.headers import NoStoreMiddleware

logger = structlog.get_logger(__name__)

# Answers that carry tokens or account data must never be cached by a browser or proxy.
NO_STORE_PREFIXES = ("/api/v1/auth", "/api/v1/users")


def create_app(config: AppConfig | None = None) -> FastAPI:
    """Build the FastAPI application; nothing connects until the lifespan starts."""
    config = config or config_manager.get_config()
    container = build_container(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if config.generated_secret:
            logger.warning(
                "generated_secret_key",
                message="no SECRET_KEY set: generated one for this process; "
                "tokens will not survive a restart or work across replicas",
            )
        if concerns := config.production_concerns():
            logger.warning(
                "production_settings",
                message="settings that do not belong in production: " + "; ".join(concerns),
            )
        await container.lifecycle.startup()
        try:
            with serving_collector():
                yield
        finally:
            await container.lifecycle.shutdown()
            flush_access_log()

    app = FastAPI(
        title="RedFire",
        version=config.version,
        description="Async trading backend: orders, strategies and market data over vnpy.",
        docs_url=None,
        redoc_url=None,
        # Off in production unless DOCS__ENABLED: the document maps every route for a visitor.
        openapi_url="/openapi.json" if config.docs_enabled else None,
        lifespan=lifespan,
        # Observability is Prometheus (/metrics) and structlog; FastAPI's OpenTelemetry hooks
        # would look for a provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.container = container
    APP_INFO.info({"version": config.version, "environment": config.environment})
    install_error_handlers(app)
    if config.security.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.security.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(NoStoreMiddleware, prefixes=NO_STORE_PREFIXES)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=config.max_body_bytes,
        upload_limits={
            f"{API_PREFIX}/market/bars/import": config.market.import_max_bytes,
            f"{API_PREFIX}/backtests": config.backtest.max_upload_bytes,
            f"{API_PREFIX}/optimizations": config.backtest.max_upload_bytes,
        },
    )
    include_routers(app)
    if config.docs_enabled:
        install_docs(app)
    install_openapi(app)
    return app


def _module_app() -> FastAPI:
    config = config_manager.get_config()
    configure_logging(config.log_level, json_logs=config.log_json)
    return create_app(config)


app = _module_app()
