"""The OpenAPI document declares every error an operation can answer, in the error shape.

Derived from each route's signature: a token means 401 (with WWW-Authenticate), a role check
403, a path id 404 and 422, any parameter 422, a body 400 and 422; every request can be 413 and
500, and every /api/v1 request 503. The fuzzer (test_contract_fuzz.py) checks the rest live.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from backend.api.deps.identity import get_authentication, require_admin, require_trader
from backend.main import app as module_app
from tests.api.conftest import MakeAccount

SPEC = module_app.openapi()
ERROR_REF = "#/components/schemas/ErrorBody"
# Health reports keep their own shape on 503: they describe the service, not an error.
HEALTH_REPORTS = {"/health", "/health/ready"}


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _operations() -> Iterator[tuple[str, str, APIRoute]]:
    for context in iter_route_contexts(module_app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in sorted(route.methods - {"HEAD"}):
                yield method, str(context.path), route


OPERATIONS = list(_operations())


def expected_errors(path: str, route: APIRoute) -> set[int]:
    """The error statuses a route can answer, from its signature."""
    calls = set(_calls(route.dependant))
    dependant = route.dependant
    expected = {413, 500}
    if path.startswith("/api/v1"):
        expected.add(503)
    if get_authentication in calls:
        expected.add(401)
    if calls & {require_trader, require_admin}:
        expected.add(403)
    if _path_params(dependant):
        expected |= {404, 422}
    if _query_params(dependant) or _header_params(dependant):
        expected.add(422)
    if route.body_field is not None or "requestBody" in (route.openapi_extra or {}):
        expected |= {400, 422}
    return expected


def _path_params(dependant: Dependant) -> list[Any]:
    return [*dependant.path_params, *(p for d in dependant.dependencies for p in _path_params(d))]


def _query_params(dependant: Dependant) -> list[Any]:
    return [*dependant.query_params, *(p for d in dependant.dependencies for p in _query_params(d))]


def _header_params(dependant: Dependant) -> list[Any]:
    own = [p for p in dependant.header_params if p.alias.lower() != "authorization"]
    return [*own, *(p for d in dependant.dependencies for p in _header_params(d))]


@pytest.mark.parametrize(
    ("method", "path", "route"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_operation_declares_its_errors(method: str, path: str, route: APIRoute) -> None:
    responses = SPEC["paths"][path][method.lower()]["responses"]
    declared = {int(code) for code in responses if code[0] in "45"}
    assert expected_errors(path, route) <= declared
    for code in declared:
        if path in HEALTH_REPORTS and code == 503:
            continue
        schema = responses[str(code)]["content"]["application/json"]["schema"]
        assert schema == {"$ref": ERROR_REF}, (code, schema)
    if 401 in declared:
        assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
    if 429 in declared:
        assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_no_operation_documents_fastapis_default_validation_error() -> None:
    assert "HTTPValidationError" not in SPEC["components"]["schemas"]


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def test_every_reference_resolves() -> None:
    """Client generators fail on a `$ref` to nothing (the backtest's JSON body named one)."""
    references = set(_references(SPEC))
    assert "#/components/schemas/BacktestFromTicks" in references
    for reference in references:
        node: Any = SPEC
        for part in reference.removeprefix("#/").split("/"):
            assert isinstance(node, dict), reference
            assert part in node, reference
            node = node[part]


def test_the_upload_documents_the_fields_constraints() -> None:
    upload = SPEC["paths"]["/api/v1/backtests"]["post"]["requestBody"]["content"]
    fields = upload["multipart/form-data"]["schema"]["properties"]
    assert fields["class_name"]["minLength"] == 1
    assert fields["symbol"]["pattern"] == r"^[\w-]+\.[A-Z]+$"


def _template(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")


PATHS = sorted(SPEC["paths"])


@pytest.mark.parametrize("path", PATHS)
async def test_method_not_allowed_names_every_method_of_the_path(
    client: httpx.AsyncClient, path: str
) -> None:
    """RFC 9110: a 405's Allow lists the resource's methods, not the first route's."""
    concrete = re.sub(r"\{[^}]+\}", "1", path)
    served = {
        method.upper()
        for template, operations in SPEC["paths"].items()
        if _template(template).match(concrete)
        for method in operations
    }
    unsupported = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in served)
    response = await client.request(unsupported, concrete)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["allow"].split(", ") == sorted(served)


def test_the_websocket_is_documented_as_an_operation() -> None:
    operation = SPEC["paths"]["/api/v1/ws"]["get"]
    assert operation["responses"]["101"]["description"].startswith("Switching Protocols")
    for words in ('"op": "auth"', '"op": "subscribe"', "1008", "1009", "seq"):
        assert words in operation["description"], words
    assert "Upgrade" in operation["responses"]["426"]["headers"]


async def test_the_websocket_over_plain_http_is_426(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/ws")
    assert response.status_code == 426
    assert response.headers["upgrade"] == "websocket"
    assert response.json()["error"] == "upgrade_required"


def test_the_equity_chart_declares_its_png() -> None:
    chart = SPEC["paths"]["/api/v1/backtests/{backtest_id}/equity.png"]["get"]
    content = chart["responses"]["200"]["content"]
    assert content == {"image/png": {"schema": {"type": "string", "format": "binary"}}}


async def test_the_order_request_samples_are_orders_the_market_takes(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """ReDoc and Swagger show these samples: they must not be quantity 0 at price 0."""
    examples = SPEC["components"]["schemas"]["OrderCreate"]["examples"]
    assert {example["order_type"] for example in examples} >= {"limit", "market"}
    trader = await make_account()
    for example in examples:
        assert Decimal(example["quantity"]) > 0
        assert Decimal(example.get("price", "1")) > 0
        response = await client.post("/api/v1/orders", json=example, headers=trader.headers)
        assert response.status_code == 201, response.text
        assert response.json()["status"] != "rejected", response.json()
