"""Webhooks for tests: created over HTTP, alerts posted as a charting tool posts them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from tests.api.conftest import Account

IF = "IF2412.CFFEX"


async def create_webhook(
    client: httpx.AsyncClient, account: Account, auth: str = "secret", **fields: Any
) -> dict[str, Any]:
    """POST /webhooks; the created webhook's JSON (with its one-time `secret`)."""
    body = {"name": f"alerts of {account.username}", "auth": auth, **fields}
    response = await client.post("/api/v1/webhooks", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def alert(sender_id: str = "alert-1", **changes: Any) -> dict[str, Any]:
    """A TradingView-style alert: buy one IF2412 at market."""
    return {"id": sender_id, "symbol": IF, "action": "buy", "quantity": "1", **changes}


async def post_alert(
    http: httpx.AsyncClient, webhook: dict[str, Any], body: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    """Deliver `body`: with the secret in it (`secret` webhooks) or signed (`signature`)."""
    if webhook["auth"] == "secret":
        body = {**body, "secret": webhook["secret"]}
    raw = json.dumps(body).encode()
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    if webhook["auth"] == "signature" and "X-Signature-256" not in headers:
        digest = hmac.new(webhook["secret"].encode(), raw, hashlib.sha256).hexdigest()
        headers["X-Signature-256"] = f"sha256={digest}"
    return await http.post(webhook["url"], content=raw, headers=headers, **kwargs)
