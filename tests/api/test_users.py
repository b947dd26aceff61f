"""/users/me and user administration: roles, deactivation, password changes."""

from __future__ import annotations

import httpx
import pytest

from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount, login

ME = "/api/v1/users/me"
USERS = "/api/v1/users"


async def test_me_updates_name_and_email_with_the_current_password(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    response = await client.patch(
        ME,
        json={
            "full_name": "Ada L.",
            "email": "Ada@Example.com",
            "current_password": account.password,
        },
        headers=account.headers,
    )
    assert response.status_code == 200
    assert response.json()["full_name"] == "Ada L."
    assert response.json()["email"] == "ada@example.com"
    assert (await client.get(ME, headers=account.headers)).json()["email"] == "ada@example.com"


async def test_me_update_needs_the_right_current_password(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    wrong = await client.patch(
        ME, json={"full_name": "X", "current_password": "not-it-at-all"}, headers=account.headers
    )
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "invalid_current_password"
    missing = await client.patch(ME, json={"full_name": "X"}, headers=account.headers)
    assert missing.status_code == 422
    assert (await client.get(ME, headers=account.headers)).json()["full_name"] is None


async def test_me_email_taken_is_409(client: httpx.AsyncClient, make_account: MakeAccount) -> None:
    first = await make_account()
    second = await make_account()
    response = await client.patch(
        ME,
        json={"email": first.email.upper(), "current_password": second.password},
        headers=second.headers,
    )
    assert response.status_code == 409
    assert response.json()["error"] == "email_taken"


async def test_password_change_kills_existing_tokens(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    other_session = (await login(client, account.username, account.password)).json()
    changed = await client.patch(
        ME,
        json={"password": "a-brand-new-password", "current_password": account.password},
        headers=account.headers,
    )
    assert changed.status_code == 200
    for token in (account.access_token, other_session["access_token"]):
        response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    assert refresh.status_code == 401
    assert (await login(client, account.username, account.password)).status_code == 401
    assert (await login(client, account.username, "a-brand-new-password")).status_code == 200


async def test_deactivation_kills_tokens_and_reactivation_does_not_revive_them(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    target = await make_account()
    off = await client.patch(
        f"{USERS}/{target.id}", json={"is_active": False}, headers=admin.headers
    )
    assert off.status_code == 200
    assert off.json()["is_active"] is False
    assert (await client.get(ME, headers=target.headers)).status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": target.refresh_token}
    )
    assert refresh.status_code == 401
    denied = await login(client, target.username, target.password)
    assert denied.status_code == 401
    assert denied.json()["error"] == "invalid_credentials"

    on = await client.patch(f"{USERS}/{target.id}", json={"is_active": True}, headers=admin.headers)
    assert on.json()["is_active"] is True
    assert (await client.get(ME, headers=target.headers)).status_code == 401
    assert (await login(client, target.username, target.password)).status_code == 200


async def test_admin_lists_users_in_pages(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    for _ in range(3):
        await make_account()
    page = await client.get(USERS, params={"limit": 2, "offset": 1}, headers=admin.headers)
    assert page.status_code == 200
    body = page.json()
    assert (body["total"], body["limit"], body["offset"]) == (4, 2, 1)
    assert len(body["items"]) == 2
    assert body["items"][0]["id"] < body["items"][1]["id"]
    assert "hashed_password" not in body["items"][0]
    default = (await client.get(USERS, headers=admin.headers)).json()
    assert (default["limit"], default["offset"], len(default["items"])) == (50, 0, 4)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1}])
async def test_bad_page_parameters_are_422(
    client: httpx.AsyncClient, make_account: MakeAccount, params: dict[str, int]
) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    response = await client.get(USERS, params=params, headers=admin.headers)
    assert response.status_code == 422


@pytest.mark.parametrize("role", [UserRole.TRADER, UserRole.VIEWER])
async def test_non_admins_are_forbidden_on_admin_routes(
    client: httpx.AsyncClient, make_account: MakeAccount, role: UserRole
) -> None:
    account = await make_account(role=role)
    listing = await client.get(USERS, headers=account.headers)
    patch = await client.patch(
        f"{USERS}/{account.id}", json={"role": "admin"}, headers=account.headers
    )
    for response in (listing, patch):
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"
    assert (await client.get(ME, headers=account.headers)).json()["role"] == role.value


async def test_admin_changes_roles_and_the_new_role_applies_at_once(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    target = await make_account()
    promoted = await client.patch(
        f"{USERS}/{target.id}", json={"role": "admin"}, headers=admin.headers
    )
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "admin"
    assert (await client.get(USERS, headers=target.headers)).status_code == 200


async def test_admin_patch_errors(client: httpx.AsyncClient, make_account: MakeAccount) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    missing = await client.patch(f"{USERS}/999999", json={"role": "viewer"}, headers=admin.headers)
    assert missing.status_code == 404
    bad_role = await client.patch(
        f"{USERS}/{admin.id}", json={"role": "root"}, headers=admin.headers
    )
    assert bad_role.status_code == 422
    demote_self = await client.patch(
        f"{USERS}/{admin.id}", json={"role": "viewer"}, headers=admin.headers
    )
    assert demote_self.status_code == 409
    assert demote_self.json()["error"] == "cannot_modify_self"
    assert (await client.get(ME, headers=admin.headers)).json()["role"] == "admin"


async def test_viewer_reads_and_manages_its_own_account(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    viewer = await make_account(role=UserRole.VIEWER)
    assert (await client.get(ME, headers=viewer.headers)).json()["role"] == "viewer"
    renamed = await client.patch(
        ME,
        json={"full_name": "Just Looking", "current_password": viewer.password},
        headers=viewer.headers,
    )
    assert renamed.status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=viewer.headers)).status_code == 204


ORDERS = "/api/v1/orders"
LIMIT_ORDER = {
    "symbol": "IF2412.CFFEX",
    "side": "BUY",
    "order_type": "limit",
    "quantity": "1",
    "price": "3500.0",
}


async def test_access_changes_reach_the_order_endpoints_at_once(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """The order endpoints check tokens against a cached access state; a change drops it."""
    admin = await make_account(role=UserRole.ADMIN)
    target = await make_account()
    assert (await client.get(ORDERS, headers=target.headers)).status_code == 200  # cached now

    demoted = await client.patch(
        f"{USERS}/{target.id}", json={"role": "viewer"}, headers=admin.headers
    )
    assert demoted.status_code == 200
    refused = await client.post(ORDERS, json=LIMIT_ORDER, headers=target.headers)
    assert refused.status_code == 403
    assert refused.json()["error"] == "read_only"

    off = await client.patch(
        f"{USERS}/{target.id}", json={"is_active": False}, headers=admin.headers
    )
    assert off.status_code == 200
    gone = await client.get(ORDERS, headers=target.headers)
    assert gone.status_code == 401
    assert gone.json()["error"] == "token_revoked"


async def test_a_new_password_ends_order_access_at_once(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    assert (await client.get(ORDERS, headers=account.headers)).status_code == 200  # cached now
    changed = await client.patch(
        ME,
        json={"password": "a-brand-new-password", "current_password": account.password},
        headers=account.headers,
    )
    assert changed.status_code == 200
    assert (await client.get(ORDERS, headers=account.headers)).status_code == 401
