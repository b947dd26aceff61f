"""/api/v1/admin/api-keys: every user's API keys, for administrators (logged in)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep, UnitOfWorkDep
from backend.api.deps.identity import AdminUser
from backend.api.deps.parameters import IntegerId, PageParamsDep
from backend.api.deps.programs import ApiKeyServiceDep
from backend.api.responses import error_responses
from backend.schemas.api_keys import ApiKeyRead
from backend.schemas.common import INTEGER_MAX, Page
from backend.services.apikeys.service import key_view

router = APIRouter(prefix=f"{API_PREFIX}/admin/api-keys", tags=["admin"], route_class=ApiRoute)


@router.get("", responses=error_responses(401, 403, 422), summary="Every API key (admin)")
async def list_all_api_keys(
    _: AdminUser,
    session: SessionDep,
    page: PageParamsDep,
    keys: ApiKeyServiceDep,
    user_id: Annotated[int | None, Query(ge=1, le=INTEGER_MAX)] = None,
) -> Page[ApiKeyRead]:
    """All keys, or one user's (`?user_id=`), newest first."""
    items, total = await keys.page(session, user_id=user_id, limit=page.limit, offset=page.offset)
    return Page[ApiKeyRead](
        items=[key_view(item) for item in items], total=total, limit=page.limit, offset=page.offset
    )


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
    summary="Revoke any API key (admin)",
)
async def revoke_any_api_key(
    key_id: IntegerId, admin: AdminUser, work: UnitOfWorkDep, keys: ApiKeyServiceDep
) -> Response:
    """The key stops working on every replica at once."""
    await keys.revoke(work, key_id=key_id, owner_id=None, actor=admin.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
