"""The bodies POST /backtests reads: a JSON request over stored bars, or a CSV upload."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from backend.api.openapi import component_ref
from backend.core.monitoring.middleware import BodyTooLargeError
from backend.schemas.backtests import (
    BacktestCreate,
    BacktestFromHistory,
    BacktestFromTicks,
    BacktestJSON,
)

JSON_BODY: TypeAdapter[BacktestFromHistory | BacktestFromTicks] = TypeAdapter(BacktestJSON)

_FIELDS = BacktestCreate.model_json_schema()["properties"]
CREATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "class_name", "symbol"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "CSV: "
                                 "datetime,open,high,low,close,volume"},
                        "class_name": _FIELDS["class_name"],
                        "symbol": _FIELDS["symbol"],
                        "parameters": {"type": "string", "description": "JSON object"},
                        "settings": {"type": "string", "description": "JSON BacktestSettings"},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "oneOf": [component_ref(BacktestFromHistory), component_ref(BacktestFromTicks)],
                    "discriminator": {"propertyName": "source"},
                }
            },
        },
    }
}  # fmt: skip


def validation_error(exc: ValidationError, prefix: tuple[str, ...]) -> RequestValidationError:
    errors = [{**error, "loc": (*prefix, *error["loc"])} for error in exc.errors()]
    return RequestValidationError(errors)


def json_field(value: Any, name: str) -> Any:
    if value is None or value == "":
        return None
    try:
        return json.loads(str(value))
    except ValueError:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", name), "msg": "must be JSON"}]
        ) from None


async def json_body(request: Request, limit: int) -> bytes:
    # This route's upload cap is far above MAX_BODY_BYTES; a JSON body keeps the general one.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(limit)
    return bytes(body)


def create_request(form: Any) -> BacktestCreate:
    fields = {
        "class_name": form.get("class_name"),
        "symbol": form.get("symbol"),
        "parameters": json_field(form.get("parameters"), "parameters"),
        "settings": json_field(form.get("settings"), "settings"),
    }
    try:
        return BacktestCreate.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise validation_error(exc, ("body",)) from None
