"""ApiRoute: the route class of every router, for the checks every route makes.

Request bodies are strict JSON (strict_json.py) and a query parameter the route does not
declare is 422 (query_guard.py). The query check runs in the route's own handler, not as a
FastAPI dependency: every dependency is a node FastAPI solves on every request, a cost the
order endpoints (the hot path) would pay although their requests carry no query string. For
the same reason the endpoints marked `authenticated` (placing and reading an order) have
their caller authenticated here, before FastAPI validates the request, and the endpoints
marked `bound_by` have their arguments read by their binder (binding.py) when it accepts the
request, by FastAPI otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from backend.api.binding import Binder, binder_of
from backend.api.deps.principal import authenticate, authentication_of
from backend.api.query_guard import refuse_unknown_query
from backend.api.strict_json import StrictJSONRequest, StrictJSONRoute


class ApiRoute(StrictJSONRoute):
    """A route whose requests are refused (422) when they name an undeclared query parameter."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Check the query string, when there is one, before FastAPI's handler runs."""
        binder = binder_of(self.endpoint)
        handler = super().get_route_handler() if binder is None else self._bound_handler(binder)
        traders_only = authentication_of(self.endpoint)

        async def guarded(request: Request) -> Response:
            if request.scope["query_string"]:
                refuse_unknown_query(self, request.query_params)
            if traders_only is not None:
                await authenticate(request, traders_only=traders_only)
            return await handler(request)

        return guarded

    def _bound_handler(self, binder: Binder) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint called with its binder's arguments; FastAPI's handler when it has none."""
        endpoint = self.endpoint
        fastapi_handler = APIRoute.get_route_handler(self)

        async def bound(request: Request) -> Response:
            strict = StrictJSONRequest(request.scope, request.receive)
            arguments = await binder(strict)
            if arguments is None:
                return await fastapi_handler(strict)  # the body, if read, is kept on `strict`
            response: Response = await endpoint(**arguments)
            return response

        return bound
