"""What production shows to whom: docs off, /metrics behind its token, /health's status only."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import structlog.testing

from backend.core.config import AppConfig
from backend.main import create_app
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.contract import assert_error_response
from tests.api.stream import started_app
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL

METRICS_TOKEN = "scrape-token-0123456789abcdef"


async def test_production_closes_the_docs_and_guards_metrics_and_health_details(
    make_config: Callable[..., AppConfig], make_account: MakeAccount
) -> None:
    trader, admin = await make_account(), await make_account(role=UserRole.ADMIN)
    production = {"environment": "production", "metrics": {"token": METRICS_TOKEN}}
    async with started_app(make_config, **production) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            for path in ("/docs", "/redoc", "/openapi.json", "/static/docs/swagger-ui.css"):
                body = assert_error_response(await http.get(path), 404)
                assert body["error"] == "not_found", path

            assert_error_response(await http.get("/metrics"), 401)
            wrong = {"Authorization": "Bearer not-the-scrape-token-at-all"}
            assert_error_response(await http.get("/metrics", headers=wrong), 401)
            assert_error_response(await http.get("/metrics", headers=admin.headers), 401)
            scrape = await http.get(
                "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
            )
            assert scrape.status_code == 200
            assert "redfire_http_requests_total" in scrape.text

            for who in ({}, trader.headers, {"Authorization": "Bearer forged"}):
                health = await http.get("/health", headers=who)
                assert health.status_code == 200
                assert health.json() == {"status": "healthy"}
            detailed = (await http.get("/health", headers=admin.headers)).json()
            assert detailed["services"]["database"]["status"] == "healthy"
            assert detailed["replica"] == app.state.container.config.replica_id

            assert (await http.get("/health/live")).json()["status"] == "alive"
            ready = await http.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json() == {"status": "ready", "lifecycle": "running"}


async def test_settings_open_what_production_closes(
    make_config: Callable[..., AppConfig],
) -> None:
    config = make_config(
        environment="production",
        metrics={"token": METRICS_TOKEN},
        docs={"enabled": True},
        health={"details": True},
    )
    app = create_app(config)  # not started: the docs need nothing running
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/docs")).status_code == 200
        assert (await http.get("/openapi.json")).json()["info"]["title"] == "RedFire"
        assert_error_response(await http.get("/metrics"), 401)
    await app.state.container.database.dispose()


async def test_production_warns_once_about_settings_that_do_not_belong_there(
    make_config: Callable[..., AppConfig],
) -> None:
    with structlog.testing.capture_logs() as logs:
        async with started_app(make_config, environment="production"):
            pass
    (warning,) = [entry for entry in logs if entry["event"] == "production_settings"]
    assert warning["log_level"] == "warning"
    message = warning["message"]
    assert "no METRICS__TOKEN: /metrics refuses every scrape" in message
    assert ("SQLite database" in message) is (TEST_DATABASE_URL is None)
    assert ("in-memory cache" in message) is (TEST_REDIS_URL is None)


async def test_development_warns_about_nothing(make_config: Callable[..., AppConfig]) -> None:
    with structlog.testing.capture_logs() as logs:
        async with started_app(make_config, environment="development"):
            pass
    assert not [entry for entry in logs if entry["event"] == "production_settings"]
