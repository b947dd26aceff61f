"""POST /api/v1/signals/{hook}: an alert from a charting tool, delivered to a webhook."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse

from backend.api.api_route import ApiRoute
from backend.api.backtest_bodies import json_body
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import ClientIPDep, ConfigDep
from backend.api.deps.programs import SignalIntakeDep
from backend.api.responses import error_responses
from backend.core.monitoring.middleware import BodyTooLargeError
from backend.schemas.webhooks import DeliveryRead, TradingViewAlert

router = APIRouter(prefix=f"{API_PREFIX}/signals", tags=["webhooks"], route_class=ApiRoute)


def _alert_schema() -> dict[str, Any]:
    """The alert's JSON schema, self-contained (the body is read by the intake, not FastAPI)."""
    schema = TradingViewAlert.model_json_schema()
    schema.pop("$defs", None)
    schema["properties"]["action"] = {
        "title": "Action",
        "type": "string",
        "pattern": "^([Bb][Uu][Yy]|[Ss][Ee][Ll][Ll])$",
        "description": "`buy` or `sell`, any case.",
    }
    return schema


HookId = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Signature = Annotated[
    str | None,
    Header(
        alias="X-Signature-256",
        max_length=128,
        description="`sha256=<hex HMAC-SHA256 of the raw body>` for `signature` webhooks.",
    ),
]


@router.post(
    "/{hook}",
    status_code=201,
    response_model=DeliveryRead,
    responses={
        200: {"model": DeliveryRead, "description": "A redelivery: the first order, not another"},
        **error_responses(400, 401, 403, 404, 409, 413, 422, 429),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _alert_schema()}},
        }
    },
    summary="Deliver an alert to a webhook (TradingView's JSON alert message)",
)
async def deliver_signal(
    hook: HookId,
    request: Request,
    intake: SignalIntakeDep,
    config: ConfigDep,
    client_ip: ClientIPDep,
    signature: Signature = None,
) -> Any:
    """201 with the delivery and its order; 200 for a redelivery of the same alert `id`; 401
    for an unknown webhook or a wrong secret or signature (nothing stored)."""
    limit = config.security.webhook_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(limit)  # refused before a byte of it is read
    body = await json_body(request, limit)
    answer = await intake.deliver(hook, body, signature=signature, client_ip=client_ip)
    return JSONResponse(answer.delivery.model_dump(mode="json"), status_code=answer.status_code)
