"""API keys for tests: created over HTTP by a logged-in account, as a user would."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import Account


async def create_key(
    client: httpx.AsyncClient, account: Account, *scopes: str, **fields: Any
) -> dict[str, Any]:
    """POST /api-keys; the created key's JSON (with its one-time `key`)."""
    body = {"name": f"bot of {account.username}", "scopes": list(scopes or ("read",)), **fields}
    response = await client.post("/api/v1/api-keys", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def key_headers(created: dict[str, Any]) -> dict[str, str]:
    """The `X-API-Key` header of a created key."""
    return {"X-API-Key": created["key"]}


def secret_of(created: dict[str, Any]) -> str:
    """The secret part of a created key (the secret itself may contain "_")."""
    secret: str = created["key"].removeprefix(created["prefix"] + "_")
    assert len(secret) >= 40, created["key"]
    return secret
