"""The bodies POST /optimizations reads: a JSON sweep over stored bars, or a CSV upload."""

from __future__ import annotations

import json
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from backend.api.backtest_bodies import validation_error
from backend.api.openapi import component_ref
from backend.schemas.optimizations import OptimizationFromHistory, OptimizationSweep

FROM_HISTORY: TypeAdapter[OptimizationFromHistory] = TypeAdapter(OptimizationFromHistory)

CREATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": component_ref(OptimizationFromHistory)},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "optimization"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "CSV: "
                                 "datetime,open,high,low,close,volume"},
                        "optimization": {"type": "string",
                                         "description": "JSON OptimizationSweep"},
                    },
                }
            },
        },
    }
}  # fmt: skip


def from_history(body: bytes) -> OptimizationFromHistory:
    try:
        return FROM_HISTORY.validate_json(body)
    except ValidationError as exc:
        raise validation_error(exc, ("body",)) from None


def sweep(form: Any) -> OptimizationSweep:
    raw = form.get("optimization")
    if not isinstance(raw, str) or not raw:
        error = {"type": "missing", "loc": ("body", "optimization"), "msg": "JSON is required"}
        raise RequestValidationError([error])
    try:
        value = json.loads(raw)
    except ValueError:
        error = {"type": "json_invalid", "loc": ("body", "optimization"), "msg": "must be JSON"}
        raise RequestValidationError([error]) from None
    try:
        return OptimizationSweep.model_validate(value)
    except ValidationError as exc:
        raise validation_error(exc, ("body", "optimization")) from None
