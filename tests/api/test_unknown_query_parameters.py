"""Every route refuses a query parameter it does not declare: 422 naming it, never ignored."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from backend.api.query_guard import declared_query_names
from backend.main import app as module_app
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.contract import assert_error_shape

UNKNOWN = "no_such_parameter"


def _routes() -> list[tuple[str, str]]:
    return sorted(
        (method, str(context.path))
        for context in iter_route_contexts(module_app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
        if method != "HEAD"
    )


def _concrete(path: str) -> str:
    """A path template with each `{id}` filled in (1: the object need not exist)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def _names_unknown(body: dict[str, object], *names: str) -> bool:
    detail = body["detail"]
    assert isinstance(detail, list), body
    return sorted(error["loc"] for error in detail) == [["query", name] for name in sorted(names)]


@pytest.mark.parametrize(("method", "path"), _routes(), ids=[f"{m} {p}" for m, p in _routes()])
async def test_every_route_refuses_an_unknown_query_parameter(
    client: httpx.AsyncClient, make_account: MakeAccount, method: str, path: str
) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    response = await client.request(
        method, _concrete(path), params={UNKNOWN: "1"}, headers=admin.headers
    )
    assert response.status_code == 422, (method, path, response.status_code, response.text)
    body = response.json()
    assert_error_shape(422, response.headers, body)
    assert body["error"] == "validation_error"
    assert _names_unknown(body, UNKNOWN), body


async def test_every_unknown_name_is_listed_and_declared_ones_pass(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    params = [("status", "filled"), ("status", "pending"), ("limit", "5"), ("simbol", "x")]
    params.append(("Limit", "5"))  # names are case-sensitive, like the declared ones
    refused = await client.get("/api/v1/orders", params=params, headers=trader.headers)
    assert refused.status_code == 422, refused.text
    assert _names_unknown(refused.json(), "Limit", "simbol")
    accepted = await client.get("/api/v1/orders", params=params[:3], headers=trader.headers)
    assert accepted.status_code == 200, accepted.text


def test_declared_names_include_dependencies_and_aliases(app: FastAPI) -> None:
    [orders] = [
        context.original_route
        for context in iter_route_contexts(app.routes)
        if context.path == "/api/v1/orders" and "GET" in (context.methods or ())
    ]
    assert isinstance(orders, APIRoute)
    # `status` is the alias of status_filter; limit, offset, start and end: from dependencies.
    assert declared_query_names(orders) == {
        *("status", "symbol", "side", "limit", "offset", "start", "end")
    }


def test_every_operation_documents_the_422(app: FastAPI) -> None:
    operations = {
        (method, path): operation
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    }
    assert operations
    assert [
        key for key, operation in operations.items() if "422" not in operation["responses"]
    ] == []
