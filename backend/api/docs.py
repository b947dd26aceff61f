"""/docs and /redoc served from vendored assets: no request leaves the machine."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from backend.api.api_route import ApiRoute

DOCS_ASSETS = Path(__file__).resolve().parent.parent / "static" / "docs"
ASSETS_PREFIX = "/static/docs"


def install_docs(app: FastAPI) -> None:
    """Mount the assets and the two documentation pages."""
    app.mount(ASSETS_PREFIX, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    router = APIRouter(include_in_schema=False, route_class=ApiRoute)

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PREFIX}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_PREFIX}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PREFIX}/favicon-32x32.png",
            with_google_fonts=False,
        )

    app.include_router(router)
