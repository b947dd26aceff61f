"""/api/v1/users: one's own account, and user administration."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import (
    AdminUser,
    AuthServiceDep,
    ClientIPDep,
    ContainerDep,
    CurrentUser,
    IntegerId,
    PageParamsDep,
    SessionDep,
    UserServiceDep,
)
from backend.api.prefix import API_PREFIX
from backend.api.responses import error_responses
from backend.api.routing import StrictJSONRoute
from backend.models.enums import UserRole
from backend.schemas.common import Page
from backend.schemas.users import UserAdminUpdate, UserRead, UserSelfUpdate
from backend.services.strategy.service import stop_strategies_of

router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["users"], route_class=StrictJSONRoute)


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
    user: CurrentUser,
    session: SessionDep,
    users: UserServiceDep,
    auth: AuthServiceDep,
    client_ip: ClientIPDep,
    container: ContainerDep,
) -> UserRead:
    """Name, email or password, confirmed by `current_password`; a new password logs out
    every session, this one included."""
    await auth.confirm_password(
        session, user, password=payload.current_password, client_ip=client_ip
    )
    updated = await users.update_profile(
        session,
        user,
        full_name=payload.full_name,
        email=payload.email,
        password=payload.password,
    )
    answer = UserRead.model_validate(updated)
    await session.commit()
    await container.access.forget(answer.id)  # a new password ends every session at once
    return answer


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
    session: SessionDep,
    users: UserServiceDep,
    container: ContainerDep,
) -> UserRead:
    """Deactivation ends every session of that user at once; deactivation and the viewer
    role stop the user's running strategies and cancel their open orders."""
    user = await users.administer(
        session, actor=admin, user_id=user_id, is_active=payload.is_active, role=payload.role
    )
    answer = UserRead.model_validate(user)
    may_trade = answer.is_active and answer.role is not UserRole.VIEWER
    stopped = [] if may_trade else await stop_strategies_of(session, answer.id)
    await session.commit()
    await container.access.forget(answer.id)  # every replica sees the change on its next check
    for strategy_id in stopped:
        await container.strategies.stop_strategy(strategy_id)
    if not may_trade:
        await container.trading.orders.cancel_open_orders_of(session, answer.id)
    return answer
