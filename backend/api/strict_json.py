"""StrictJSONRoute: request bodies with a key given twice are refused, not silently merged.

`{"side": "BUY", "side": "SELL"}` is valid JSON to Python (the last key wins), but a proxy,
WAF or audit log in front of us may read the first one: two readers, two different orders.
The contract calls it malformed: 400 `malformed_json`, naming the duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise json.JSONDecodeError(f"duplicate key {key!r}", "", 0)
            seen.add(key)
    return result


class StrictJSONRequest(Request):
    """A request whose JSON body may not repeat a key in any object."""

    async def json(self) -> Any:
        """The decoded body; JSONDecodeError on a repeated key (400 `malformed_json`)."""
        if not hasattr(self, "_json"):
            # bytes, as Starlette passes them: json.loads detects UTF-8/16/32 the same way.
            self._json = json.loads(await self.body(), object_pairs_hook=_unique_keys)
        return self._json


class StrictJSONRoute(APIRoute):
    """An APIRoute that reads JSON bodies with StrictJSONRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so it sees the strict request."""
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
