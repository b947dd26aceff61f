"""404s name what was not found: `<object>_not_found`; a bare `not_found` is an unknown route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.contract import assert_error_response

MISSING = 999_999
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("GET", f"/api/v1/orders/{MISSING}", {}, "order_not_found"),
    ("POST", f"/api/v1/orders/{MISSING}/cancel", {}, "order_not_found"),
    ("GET", f"/api/v1/strategies/{MISSING}", {}, "strategy_not_found"),
    ("PATCH", f"/api/v1/strategies/{MISSING}", {"json": {"name": "x"}}, "strategy_not_found"),
    ("POST", f"/api/v1/strategies/{MISSING}/start", {}, "strategy_not_found"),
    ("GET", f"/api/v1/strategies/{MISSING}/status", {}, "strategy_not_found"),
    ("GET", f"/api/v1/backtests/{MISSING}", {}, "backtest_not_found"),
    ("GET", f"/api/v1/backtests/{MISSING}/equity.png", {}, "backtest_not_found"),
    ("PATCH", f"/api/v1/users/{MISSING}", {"json": {"is_active": False}}, "user_not_found"),
    ("GET", "/api/v1/market/ticks/NOPE.CFFEX", {}, "symbol_not_found"),
    ("GET", "/api/v1/no-such-route", {}, "not_found"),
    ("GET", "/no/such/page", {}, "not_found"),
]


@pytest.mark.parametrize(
    ("method", "path", "request_", "code"), CASES, ids=[f"{m} {p}" for m, p, _, _ in CASES]
)
async def test_a_404_names_what_was_not_found(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    method: str,
    path: str,
    request_: dict[str, Any],
    code: str,
) -> None:
    admin = await make_account(role=UserRole.ADMIN)
    response = await client.request(method, path, headers=admin.headers, **request_)
    assert assert_error_response(response, 404)["error"] == code
