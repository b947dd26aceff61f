"""/api/v1/webhooks: a user's webhooks (create, list, read, disable) and their deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep
from backend.api.deps.identity import CurrentUser
from backend.api.deps.login import LoggedInUser
from backend.api.deps.parameters import IntegerId, PageParamsDep
from backend.api.deps.programs import WebhookServiceDep
from backend.api.responses import error_responses
from backend.schemas.common import Page
from backend.schemas.webhooks import DeliveryRead, WebhookCreate, WebhookCreated, WebhookRead
from backend.services.webhooks.service import webhook_view

router = APIRouter(prefix=f"{API_PREFIX}/webhooks", tags=["webhooks"], route_class=ApiRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 404, 409, 422),
    summary="Create a webhook (its secret is shown in this answer only)",
)
async def create_webhook(
    body: WebhookCreate, user: LoggedInUser, session: SessionDep, webhooks: WebhookServiceDep
) -> WebhookCreated:
    """201 with the webhook's `url` and `secret`; traders and admins only, logged in."""
    return await webhooks.create(session, user, body)


@router.get("", responses=error_responses(401, 422), summary="One's own webhooks")
async def list_webhooks(
    user: CurrentUser, session: SessionDep, page: PageParamsDep, webhooks: WebhookServiceDep
) -> Page[WebhookRead]:
    """The caller's webhooks, disabled ones included, newest first."""
    items, total = await webhooks.page(
        session, user_id=user.id, limit=page.limit, offset=page.offset
    )
    views = [webhook_view(item) for item in items]
    return Page[WebhookRead](items=views, total=total, limit=page.limit, offset=page.offset)


@router.get("/{webhook_id}", responses=error_responses(401, 404, 422), summary="One webhook")
async def get_webhook(
    webhook_id: IntegerId, user: CurrentUser, session: SessionDep, webhooks: WebhookServiceDep
) -> WebhookRead:
    """One of the caller's webhooks; 404 for anyone else's."""
    return webhook_view(await webhooks.owned(session, user_id=user.id, webhook_id=webhook_id))


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
    summary="Disable a webhook",
)
async def disable_webhook(
    webhook_id: IntegerId, user: LoggedInUser, session: SessionDep, webhooks: WebhookServiceDep
) -> Response:
    """Every further delivery is 401; the webhook and its deliveries stay listed."""
    await webhooks.disable(session, user_id=user.id, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{webhook_id}/deliveries",
    responses=error_responses(401, 404, 422),
    summary="A webhook's deliveries and their outcomes",
)
async def list_deliveries(
    webhook_id: IntegerId,
    user: CurrentUser,
    session: SessionDep,
    page: PageParamsDep,
    webhooks: WebhookServiceDep,
) -> Page[DeliveryRead]:
    """Newest first: placed, rejected (risk), duplicate, invalid or refused."""
    items, total = await webhooks.deliveries(
        session, user_id=user.id, webhook_id=webhook_id, limit=page.limit, offset=page.offset
    )
    views = [DeliveryRead.model_validate(item) for item in items]
    return Page[DeliveryRead](items=views, total=total, limit=page.limit, offset=page.offset)
