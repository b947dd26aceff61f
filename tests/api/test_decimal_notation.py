"""Decimals in requests: JSON numbers or plain ASCII decimal strings, nothing `Decimal()` reads.

`Decimal("١")` is 1, `Decimal("1_000")` is 1000; a proxy, an audit log or a frontend reading
the same body may see another number, or none. Every request that carries a decimal refuses
them with 422 (`validation_error`; `invalid_strategy_parameters` for a strategy's parameters)
and stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from backend.app.container import AppContainer
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.contract import assert_error_response, row_counts
from tests.api.test_backtests import PARAMETERS, SETTINGS, post_backtest

IF = "IF2412.CFFEX"
NOT_PLAIN = ["١", "1_000", "  1", "1 ", "+1", "1e3", "1E3", "0x10", ".5", "1.", "--1", "1,5", "１"]
PLAIN_MESSAGE = "decimal string of ASCII digits"


def _order(value: str) -> dict[str, Any]:
    return {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": value, "price": "3400"}


# Each request with the decimal field under test set to `value`: (who, method, path, keywords).
Request = tuple[str, str, str, dict[str, Any]]
REQUESTS: dict[str, Callable[[str], Request]] = {
    "order quantity": lambda v: ("trader", "POST", "/api/v1/orders", {"json": _order(v)}),
    "order price": lambda v: (
        "trader",
        "POST",
        "/api/v1/orders",
        {"json": {**_order("1"), "price": v}},
    ),
    "risk limit": lambda v: (
        "admin",
        "PUT",
        "/api/v1/admin/risk",
        {"json": {"max_order_quantity": v}},
    ),
    "price band": lambda v: ("admin", "PUT", "/api/v1/admin/risk", {"json": {"price_band_pct": v}}),
    "injected tick": lambda v: (
        "admin",
        "POST",
        "/api/v1/market/ticks",
        {"json": {"symbol": IF, "last_price": v}},
    ),
    "strategy parameter": lambda v: (
        "trader",
        "POST",
        "/api/v1/strategies",
        {
            "json": {
                "name": "s",
                "class_name": "MovingAverageStrategy",
                "symbol": IF,
                "parameters": {"fixed_size": v},
            }
        },
    ),
}


@pytest.fixture
async def headers(make_account: MakeAccount) -> dict[str, dict[str, str]]:
    trader, admin = await make_account(), await make_account(role=UserRole.ADMIN)
    return {"trader": trader.headers, "admin": admin.headers}


@pytest.mark.parametrize("value", NOT_PLAIN)
@pytest.mark.parametrize("field", list(REQUESTS))
async def test_a_decimal_string_in_anything_but_plain_notation_is_422(
    client: httpx.AsyncClient,
    container: AppContainer,
    headers: dict[str, dict[str, str]],
    field: str,
    value: str,
) -> None:
    who, method, path, keywords = REQUESTS[field](value)
    risk_before = (await client.get("/api/v1/admin/risk", headers=headers["admin"])).json()
    before = await row_counts(container)
    response = await client.request(method, path, headers=headers[who], **keywords)
    body = assert_error_response(response, 422)
    # Strategy parameters are checked by their class, with the contract's code for them.
    expected = (
        "invalid_strategy_parameters" if field == "strategy parameter" else "validation_error"
    )
    assert body["error"] == expected
    assert any(PLAIN_MESSAGE in problem["msg"] for problem in body["detail"]), body
    assert await row_counts(container) == before
    assert (await client.get("/api/v1/admin/risk", headers=headers["admin"])).json() == risk_before


@pytest.mark.parametrize("value", ["١٠٠٠٠٠", "1_000_000", " 1000000", "+1000000", "1e6"])
async def test_backtest_settings_refuse_them_too(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount, value: str
) -> None:
    trader = await make_account()
    before = await row_counts(container)
    settings = json.dumps({**SETTINGS, "capital": value})
    response = await post_backtest(client, trader, settings=settings)
    body = assert_error_response(response, 422)
    assert any(PLAIN_MESSAGE in problem["msg"] for problem in body["detail"]), body
    assert await row_counts(container) == before


@pytest.mark.parametrize("quantity", ["2", "2.0", "2.00000000", 2, 2.0])
async def test_plain_strings_and_json_numbers_are_still_decimals(
    client: httpx.AsyncClient, make_account: MakeAccount, quantity: object
) -> None:
    trader = await make_account()
    body = {**_order("1"), "quantity": quantity, "price": "3400.0"}
    response = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert response.status_code == 201, response.text
    assert response.json()["quantity"] == "2.00000000"


async def test_a_negative_plain_decimal_reaches_the_range_check(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """'-' is plain notation: refused by the limit's own bound, with that bound's message."""
    admin = await make_account(role=UserRole.ADMIN)
    response = await client.put(
        "/api/v1/admin/risk", json={"max_order_quantity": "-5"}, headers=admin.headers
    )
    body = assert_error_response(response, 422)
    assert [problem["type"] for problem in body["detail"]] == ["greater_than"]


async def test_backtest_parameters_are_checked_as_the_strategy_class_checks_them(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    parameters = json.dumps({**PARAMETERS, "fixed_size": "1_0"})
    response = await post_backtest(client, trader, parameters=parameters)
    body = assert_error_response(response, 422)
    assert PLAIN_MESSAGE in json.dumps(body["detail"]), body
