"""Unknown query parameters are 422 on every route, not silently ignored.

A misspelt filter (`?simbol=rb2501.SHFE`) would otherwise answer every row as if no filter had
been asked for. Every route's class (api_route.ApiRoute) calls `refuse_unknown_query` when a
request has a query string; it reads the route's declared query parameters (its own and its
dependencies', as a client spells them) from FastAPI's dependency tree, once per route. The
WebSocket handshake (`?token=`) is left to its own checks.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

# Route objects live as long as the process: keyed by identity, with the route kept alive.
_DECLARED: dict[int, tuple[APIRoute, frozenset[str]]] = {}


def declared_query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters `route` takes, by alias (`?status=`, not `status_filter`)."""
    names: set[str] = set()
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        pending.extend(dependant.dependencies)
        for param in dependant.query_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):  # Annotated[M, Query()]
                names.update(field.alias or name for name, field in model.model_fields.items())
            else:
                names.add(param.alias)
    return frozenset(names)


def _declared(route: APIRoute) -> frozenset[str]:
    known = _DECLARED.get(id(route))
    if known is None or known[0] is not route:
        known = _DECLARED[id(route)] = (route, declared_query_names(route))
    return known[1]


def refuse_unknown_query(route: APIRoute, query: Mapping[str, str]) -> None:
    """422 `validation_error` naming each parameter of `query` that `route` does not take."""
    unknown = sorted(set(query) - _declared(route))
    if unknown:
        raise RequestValidationError(
            [{"type": "extra_forbidden", "loc": ("query", name),
              "msg": f"unknown query parameter {name!r}"} for name in unknown]
        )  # fmt: skip
