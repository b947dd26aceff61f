"""Placing and reading an order authenticate in their route, before FastAPI validates the
request (api_route.ApiRoute): the caller is checked first, as with a dependency, so a bad
credential is 401 (a viewer 403) whatever the body or path, and the docs still show the
bearer security."""

from __future__ import annotations

import httpx

from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount

BAD_BODY = {"symbol": "IF2412.CFFEX", "side": "SIDEWAYS", "quantity": -1}


async def test_no_credentials_is_401_before_the_body_or_path_is_read(
    client: httpx.AsyncClient,
) -> None:
    placed = await client.post("/api/v1/orders", json=BAD_BODY)
    read = await client.get("/api/v1/orders/not-a-number")
    assert (placed.status_code, read.status_code) == (401, 401)
    assert placed.json()["error"] == read.json()["error"] == "not_authenticated"
    assert placed.headers["www-authenticate"] == "Bearer"


async def test_a_bad_token_or_key_is_401_whatever_the_body(client: httpx.AsyncClient) -> None:
    for headers in ({"Authorization": "Bearer not-a-token"}, {"X-API-Key": "rfk_0_nope"}):
        answer = await client.post("/api/v1/orders", json=BAD_BODY, headers=headers)
        assert answer.status_code == 401, answer.text


async def test_a_viewer_is_refused_before_its_body_is_checked(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    viewer = await make_account(role=UserRole.VIEWER)
    answer = await client.post("/api/v1/orders", json=BAD_BODY, headers=viewer.headers)
    assert answer.status_code == 403
    assert answer.json()["error"] == "read_only"
    # A viewer may read: its own bad path is then a 422, after authentication.
    read = await client.get("/api/v1/orders/not-a-number", headers=viewer.headers)
    assert read.status_code == 422


async def test_an_authenticated_caller_gets_the_validation_error(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    answer = await client.post("/api/v1/orders", json=BAD_BODY, headers=trader.headers)
    assert answer.status_code == 422
    assert answer.json()["error"] == "validation_error"


async def test_the_docs_show_the_bearer_security_on_both(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    bearer = [{"OAuth2PasswordBearer": []}]
    assert paths["/api/v1/orders"]["post"]["security"] == bearer
    assert paths["/api/v1/orders/{order_id}"]["get"]["security"] == bearer
