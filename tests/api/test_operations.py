"""Operations endpoints, error shape and request plumbing, through the real app."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from backend.core.config import AppConfig
from backend.core.lifecycle.collector import MIDDLE_THRESHOLD, YOUNG_THRESHOLD, SurvivorFreezer
from backend.core.monitoring.access_log import flush_access_log, log_request
from backend.core.monitoring.middleware import RequestContextMiddleware
from backend.main import create_app


async def test_health_reports_each_dependency_with_measured_latency(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["lifecycle"] == "running"
    assert body["version"] == "0.1.0"
    assert body["timestamp"].endswith("+00:00")
    for name in ("database", "redis"):
        service = body["services"][name]
        assert service["status"] == "healthy"
        assert isinstance(service["latency_ms"], float)
        assert service["latency_ms"] >= 0


async def test_live_and_ready_answer_200_when_started(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    ready = await client.get("/health/ready")
    assert live.status_code == 200
    assert live.json()["status"] == "alive"
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_ready_is_503_before_startup(make_config: Callable[..., AppConfig]) -> None:
    app = create_app(make_config())  # lifespan not started
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["lifecycle"] == "initializing"
        assert (await http.get("/health/live")).status_code == 200
    await app.state.container.database.dispose()


async def test_redis_down_degrades_health_but_requests_succeed(
    make_config: Callable[..., AppConfig], unused_tcp_port: int
) -> None:
    config = make_config(redis={"url": f"redis://127.0.0.1:{unused_tcp_port}/0"})
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            health = await http.get("/health")
            assert health.status_code == 200
            assert health.json()["status"] == "degraded"
            assert health.json()["services"]["redis"]["status"] == "unhealthy"
            assert health.json()["services"]["database"]["status"] == "healthy"
            assert (await http.get("/health/live")).status_code == 200
            assert (await http.get("/health/ready")).status_code == 200


async def test_metrics_use_route_templates(client: httpx.AsyncClient) -> None:
    await client.get("/health/live")
    await client.get("/no/such/path/12345")
    await client.get("/api/v1/orders/12345")  # 401: the full template, prefix included
    text = (await client.get("/metrics")).text
    assert 'route="/api/v1/orders/{order_id}",status_class="4xx"' in text
    assert re.search(
        r'redfire_http_requests_total\{method="GET",route="/health/live",status_class="2xx"\} '
        r"[1-9]",
        text,
    )
    assert 'route="unmatched",status_class="4xx"' in text
    assert "/no/such/path/12345" not in text
    assert "redfire_http_request_duration_seconds_bucket" in text
    assert "redfire_http_requests_in_progress" in text
    assert 'redfire_app_info{environment="test",version="0.1.0"} 1.0' in text


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health/live", headers={"X-Request-ID": "bad id <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert generated.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/nothing-here", 404, "not_found"),
        ("DELETE", "/health", 405, "method_not_allowed"),
    ],
)
async def test_http_errors_have_the_contract_shape(
    client: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    response = await client.request(method, path, headers={"X-Request-ID": "req-1"})
    assert response.status_code == status
    assert response.json() == {
        "error": code,
        "detail": response.json()["detail"],
        "request_id": "req-1",
    }


async def test_oversized_body_gets_413_in_contract_shape(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    limit = app.state.container.config.max_body_bytes
    response = await client.post("/health", content=b"x" * (limit + 1))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert response.headers["x-request-id"] == response.json()["request_id"]


async def test_oversized_streamed_body_is_cut_off_with_413() -> None:
    seen: list[int] = []

    async def reads_body(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        seen.append(len(await request.body()))
        await JSONResponse({"ok": True})(scope, receive, send)

    app = RequestContextMiddleware(reads_body, max_body_bytes=2048)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"y" * 1024

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post("/anything", content=chunks())
        small = await http.post("/anything", content=b"z" * 100)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert small.status_code == 200
    assert seen == [100]


async def test_unhandled_exception_is_a_500_in_contract_shape() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=RequestContextMiddleware(broken, max_body_bytes=2048))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/x", headers={"X-Request-ID": "r-500"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "detail": "internal server error",
        "request_id": "r-500",
    }
    assert "secret internals" not in response.text


async def test_docs_are_served_from_same_origin_assets(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        urls = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert urls, page
        assert all(url.startswith("/") for url in urls), urls
        assert "googleapis" not in html
        assert "cdn.jsdelivr" not in html
        for url in urls:
            if url.startswith("/static/"):
                assert (await client.get(url)).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert schema["info"]["title"] == "RedFire"


async def test_the_collector_is_tuned_while_serving_and_restored_after(
    make_config: Callable[..., AppConfig],
) -> None:
    """Start-up objects frozen out of it, young collections rarer, middle ones more frequent
    (lifecycle/collector.py)."""
    before = gc.get_threshold()
    freezers = _freezers()
    app = create_app(make_config())
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 100_000
        assert gc.get_threshold() == (YOUNG_THRESHOLD, MIDDLE_THRESHOLD, *before[2:])
        assert len(_freezers()) == len(freezers) + 1
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    assert _freezers() == freezers


def _freezers() -> list[object]:
    return [callback for callback in gc.callbacks if isinstance(callback, SurvivorFreezer)]


def test_what_survives_a_full_collection_is_frozen_until_every_nth_thaws_it() -> None:
    """The next full collection walks only what survived since (lifecycle/collector.py)."""
    others = _freezers()  # the session's app serves meanwhile: its own freezer steps aside
    for other in others:
        gc.callbacks.remove(other)
    freezer = SurvivorFreezer(per_thaw=2)
    gc.callbacks.append(freezer)
    try:
        survivors = [[n] for n in range(10_000)]
        gc.collect(1)  # a middle collection: nothing frozen
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert gc.get_freeze_count() >= len(survivors)
        gc.collect()  # the second full collection thaws
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert gc.get_freeze_count() >= len(survivors)
    finally:
        gc.callbacks.remove(freezer)
        gc.callbacks.extend(others)
        gc.unfreeze()


@pytest.mark.parametrize(("level", "lines"), [(logging.INFO, 1), (logging.WARNING, 0)])
async def test_one_access_line_per_request_at_info_level(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str], level: int, lines: int
) -> None:
    access = logging.getLogger("redfire.access")
    previous = access.level
    access.setLevel(level)
    try:
        flush_access_log()
        capsys.readouterr()
        await client.get("/api/v1/orders/7", headers={"X-Request-ID": "access-line-1"})
        flush_access_log()
    finally:
        access.setLevel(previous)
    logs = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    written = [entry for entry in logs if entry["event"] == "request"]
    assert len(written) == lines
    if written:
        assert written[0]["route"] == "/api/v1/orders/{order_id}"
        assert written[0]["status"] == 401
        assert written[0]["duration_ms"] >= 0
        assert written[0]["request_id"] == "access-line-1"
        assert (written[0]["level"], written[0]["logger"]) == ("info", "redfire.access")
        assert written[0]["timestamp"].endswith("Z")
        # The keys in the order structlog's JSON lines have them (the app's other lines).
        assert list(written[0]) == [
            *("method", "path", "route", "status", "duration_ms", "client", "event"),
            *("request_id", "level", "logger", "timestamp"),
        ]


class CountingStream(io.StringIO):
    """A stderr that counts its writes."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


async def test_access_lines_of_one_loop_iteration_reach_stderr_in_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flush_access_log()
    stream = CountingStream()
    monkeypatch.setattr(sys, "stderr", stream)
    for n in range(3):
        log_request(method="GET", path=f"/api/v1/orders/{n}", status=200)
    assert stream.getvalue() == ""  # queued until the loop finishes this iteration
    after_flush = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(after_flush.set_result, None)  # runs after the flush
    await after_flush
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["path"] for line in lines] == [f"/api/v1/orders/{n}" for n in range(3)]
    assert stream.writes == 1


async def test_the_order_pipeline_queues_are_exported_when_scraped(
    make_config: Callable[..., AppConfig],
) -> None:
    app = create_app(make_config())
    async with app.router.lifespan_context(app):
        events = app.state.container.trading.events
        await events.stop()  # nothing books events now: what arrives waits in the queue
        for _ in range(3):
            await events.on_event(object())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            text = (await http.get("/metrics")).text
    assert "redfire_order_events_queued 3.0" in text
    assert "redfire_order_intake_queued 0.0" in text


async def test_the_one_process_without_redis_leads_its_paper_market(
    make_config: Callable[..., AppConfig],
) -> None:
    """No Redis: nobody else walks the PAPER market, so this process says it leads."""
    app = create_app(make_config(redis={"url": None}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            text = (await http.get("/metrics")).text
    assert "\nredfire_paper_market_leader 1.0\n" in text


async def test_an_access_line_redacts_a_secret_in_the_path(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token pasted into a path (a client's mistake) is not written to the log."""
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    access = logging.getLogger("redfire.access")
    previous = access.level
    access.setLevel(logging.INFO)
    try:
        flush_access_log()
        capsys.readouterr()
        await client.get(f"/api/v1/orders/{token}")
        await client.get("/api/v1/market/password=hunter2")
        flush_access_log()
    finally:
        access.setLevel(previous)
    text = capsys.readouterr().err
    lines = [json.loads(line) for line in text.splitlines() if line]
    paths = [entry["path"] for entry in lines if entry["event"] == "request"]
    assert paths == ["/api/v1/orders/[redacted]", "/api/v1/market/password=[redacted]"]
    assert token not in text
    assert "hunter2" not in text
