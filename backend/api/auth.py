"""/api/v1/auth: register, login (OAuth2 password form), refresh, logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import ClientIPDep, SecurityDep, SessionDep
from backend.api.deps.login import LoginSessionDep
from backend.api.deps.services import AuthServiceDep, UserServiceDep
from backend.api.responses import error_responses
from backend.core.security.tokens import IssuedTokens
from backend.schemas.auth import RefreshRequest, TokenResponse
from backend.schemas.users import UserCreate, UserRead

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"], route_class=ApiRoute)


def _token_response(tokens: IssuedTokens) -> TokenResponse:
    return TokenResponse(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 409, 422, 429),
    summary="Create an account",
)
async def register(
    payload: UserCreate,
    session: SessionDep,
    users: UserServiceDep,
    security: SecurityDep,
    client_ip: ClientIPDep,
) -> UserRead:
    """A new trader account; 409 `username_taken` / `email_taken`, 429 when repeated too often."""
    await security.register_limiter.hit(client_ip)
    user = await users.create(
        session,
        username=payload.username,
        email=payload.email,
        password=payload.password,
        full_name=payload.full_name,
    )
    return UserRead.model_validate(user)


@router.post(
    "/login",
    responses=error_responses(400, 401, 422, 429, 503),
    summary="Log in with the OAuth2 password form",
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    auth: AuthServiceDep,
    client_ip: ClientIPDep,
) -> TokenResponse:
    """Tokens for a username and password; 401 `invalid_credentials`, 429 when repeated (per
    username and address, and per address), 503 `busy` when too many logins are hashing."""
    tokens = await auth.login(
        session, username=form.username, password=form.password, client_ip=client_ip
    )
    return _token_response(tokens)


@router.post(
    "/refresh",
    responses=error_responses(400, 401, 422),
    summary="Exchange a refresh token for a new pair",
)
async def refresh(
    payload: RefreshRequest, session: SessionDep, auth: AuthServiceDep, client_ip: ClientIPDep
) -> TokenResponse:
    """A new access and refresh token; the refresh token given stops working (a retry from
    the same address within a few seconds gets the same pair again)."""
    tokens = await auth.refresh(session, refresh_token=payload.refresh_token, client_ip=client_ip)
    return _token_response(tokens)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403),
    summary="Revoke this session",
)
async def logout(login: LoginSessionDep, auth: AuthServiceDep, session: SessionDep) -> Response:
    """This access token and its refresh token stop working at once."""
    await auth.logout(session, claims=login.claims)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
