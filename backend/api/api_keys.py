"""/api/v1/api-keys: a user's own API keys (create, list, revoke); a login is required."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep, UnitOfWorkDep
from backend.api.deps.login import LoggedInUser
from backend.api.deps.parameters import IntegerId, PageParamsDep
from backend.api.deps.programs import ApiKeyServiceDep
from backend.api.responses import error_responses
from backend.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from backend.schemas.common import Page
from backend.services.apikeys.service import key_view

router = APIRouter(prefix=f"{API_PREFIX}/api-keys", tags=["api keys"], route_class=ApiRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 409, 422),
    summary="Create an API key (its secret is shown in this answer only)",
)
async def create_api_key(
    body: ApiKeyCreate, user: LoggedInUser, session: SessionDep, keys: ApiKeyServiceDep
) -> ApiKeyCreated:
    """201 with the key; `key` is never shown again. A viewer may create `read` keys only."""
    return await keys.create(session, user, body)


@router.get("", responses=error_responses(401, 403, 422), summary="One's own API keys")
async def list_api_keys(
    user: LoggedInUser, session: SessionDep, page: PageParamsDep, keys: ApiKeyServiceDep
) -> Page[ApiKeyRead]:
    """The caller's keys, revoked ones included, newest first (never their secrets)."""
    items, total = await keys.page(session, user_id=user.id, limit=page.limit, offset=page.offset)
    return Page[ApiKeyRead](
        items=[key_view(item) for item in items], total=total, limit=page.limit, offset=page.offset
    )


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
    summary="Revoke one of one's own API keys",
)
async def revoke_api_key(
    key_id: IntegerId, user: LoggedInUser, work: UnitOfWorkDep, keys: ApiKeyServiceDep
) -> Response:
    """The key stops working on every replica at once; another user's key is 404."""
    await keys.revoke(work, key_id=key_id, owner_id=user.id, actor=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
