"""Uploads have their own body cap; every other request keeps MAX_BODY_BYTES."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from backend.core.monitoring.middleware import RequestContextMiddleware

LIMIT, UPLOAD_LIMIT = 1024, 4096


async def count_bytes(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


APP = RequestContextMiddleware(
    Starlette(routes=[Route(path, count_bytes, methods=["POST", "PUT"])
                      for path in ("/upload", "/other")]),
    max_body_bytes=LIMIT,
    upload_limits={"/upload": UPLOAD_LIMIT},
)  # fmt: skip


async def send(method: str, path: str, size: int, *, streamed: bool = False) -> httpx.Response:
    body = b"x" * size

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, size, 512):
            yield body[start : start + 512]

    transport = httpx.ASGITransport(app=APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, content=chunks() if streamed else body)


@pytest.mark.parametrize("streamed", [False, True])
async def test_an_upload_route_takes_more_than_the_general_limit(streamed: bool) -> None:
    response = await send("POST", "/upload", 3000, streamed=streamed)
    assert (response.status_code, response.text) == (200, "3000")
    refused = await send("POST", "/upload", UPLOAD_LIMIT + 1, streamed=streamed)
    assert refused.status_code == 413
    # Rendered by the app's handler (plain Starlette here, the JSON error shape in RedFire).
    assert f"request body exceeds {UPLOAD_LIMIT} bytes" in refused.text


@pytest.mark.parametrize(("method", "path"), [("POST", "/other"), ("PUT", "/upload")])
async def test_other_routes_and_methods_keep_the_general_limit(method: str, path: str) -> None:
    refused = await send(method, path, 2000)
    assert refused.status_code == 413
    assert f"request body exceeds {LIMIT} bytes" in refused.text
