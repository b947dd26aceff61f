"""/api/v1/users: one's own account, and user administration."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import ClientIPDep, SessionDep, UnitOfWorkDep
from backend.api.deps.identity import AdminUser, CurrentUser
from backend.api.deps.login import LoggedInUser
from backend.api.deps.parameters import IntegerId, PageParamsDep
from backend.api.deps.services import AuthServiceDep, UserAdministrationDep, UserServiceDep
from backend.api.responses import error_responses
from backend.schemas.common import Page
from backend.schemas.users import UserAdminUpdate, UserRead, UserSelfUpdate

router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["users"], route_class=ApiRoute)


@router.get("/me", responses=error_responses(401), summary="The current user")
async def read_me(user: CurrentUser) -> UserRead:
    """The account the token belongs to."""
    return UserRead.model_validate(user)


@router.patch(
    "/me",
    responses=error_responses(400, 401, 403, 409, 422, 429),
    summary="Change one's own account",
)
async def update_me(
    payload: UserSelfUpdate,
    user: LoggedInUser,
    work: UnitOfWorkDep,
    administration: UserAdministrationDep,
    auth: AuthServiceDep,
    client_ip: ClientIPDep,
) -> UserRead:
    """Name, email or password, confirmed by `current_password`; a new password logs out
    every session, this one included."""
    await auth.confirm_password(
        work.session, user, password=payload.current_password, client_ip=client_ip
    )
    updated = await administration.update_profile(
        work, user, full_name=payload.full_name, email=payload.email, password=payload.password
    )
    return UserRead.model_validate(updated)


@router.get("", responses=error_responses(401, 403, 422), summary="All users (admin)")
async def list_users(
    _: AdminUser, session: SessionDep, users: UserServiceDep, page: PageParamsDep
) -> Page[UserRead]:
    """A page of users in id order."""
    items, total = await users.page(session, limit=page.limit, offset=page.offset)
    return Page[UserRead](
        items=[UserRead.model_validate(item) for item in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.patch(
    "/{user_id}",
    responses=error_responses(400, 401, 403, 404, 409, 422),
    summary="Activate, deactivate or change the role of a user (admin)",
)
async def administer_user(
    user_id: IntegerId,
    payload: UserAdminUpdate,
    admin: AdminUser,
    work: UnitOfWorkDep,
    administration: UserAdministrationDep,
) -> UserRead:
    """Deactivation ends every session of that user at once; deactivation and the viewer
    role stop the user's running strategies and cancel their open orders."""
    user = await administration.administer(
        work, actor=admin, user_id=user_id, is_active=payload.is_active, role=payload.role
    )
    return UserRead.model_validate(user)
