"""The OpenAPI document: FastAPI's, plus the models that only an `openapi_extra` names.

FastAPI puts a model in `components/schemas` only when a route's signature uses it. A body the
route reads by hand (the backtest's JSON alternative to its upload) is declared with a `$ref`
from `component_ref`, and `install_openapi` adds the model, and the models it uses, to the
document, so every reference resolves for client generators.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

REF_TEMPLATE = "#/components/schemas/{model}"

_extra_models: dict[str, type[BaseModel]] = {}


def component_ref(model: type[BaseModel]) -> dict[str, str]:
    """A `$ref` to `model`, which the document will carry among its components."""
    _extra_models[model.__name__] = model
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def install_openapi(app: FastAPI) -> None:
    """Build the document as FastAPI does, then add the models `component_ref` named."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for name, model in _extra_models.items():
                schema = model.model_json_schema(ref_template=REF_TEMPLATE)
                for used, used_schema in schema.pop("$defs", {}).items():
                    _add(components, used, used_schema)
                _add(components, name, schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add(components: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    existing = components.setdefault(name, schema)
    if existing != schema:
        raise RuntimeError(f"two different schemas named {name} in the OpenAPI document")
