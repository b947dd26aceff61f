"""ApiRoute: the route class of every router, for the checks every route makes.

Request bodies are strict JSON (strict_json.py) and a query parameter the route does not
declare is 422 (query_guard.py). The query check runs in the route's own handler, not as a
FastAPI dependency: every dependency is a node FastAPI solves on every request, a cost the
order endpoints (the hot path) would pay although their requests carry no query string. For
the same reason the endpoints marked `authenticated` (placing and reading an order) have
their caller authenticated here, before FastAPI validates the request.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response

from backend.api.deps.principal import authenticate, authentication_of
from backend.api.query_guard import refuse_unknown_query
from backend.api.strict_json import StrictJSONRoute


class ApiRoute(StrictJSONRoute):
    """A route whose requests are refused (422) when they name an undeclared query parameter."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Check the query string, when there is one, before FastAPI's handler runs."""
        handler = super().get_route_handler()
        traders_only = authentication_of(self.endpoint)

        async def guarded(request: Request) -> Response:
            if request.scope["query_string"]:
                refuse_unknown_query(self, request.query_params)
            if traders_only is not None:
                await authenticate(request, traders_only=traders_only)
            return await handler(request)

        return guarded
