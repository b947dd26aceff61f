"""The order endpoints' hand-bound arguments (api/binding.py) answer what FastAPI answers.

A plainly valid request is read by the binder; anything else falls back to FastAPI's own
handler. Each case here sends the same order or id both ways and compares the answers.
"""

from __future__ import annotations

import json

import httpx
import pytest

from backend.api.binding import binder_of, idempotency_key, resource_id
from backend.api.orders import get_order, place_order
from backend.schemas.common import BIGINT_MAX
from tests.api.conftest import MakeAccount

ORDER = {
    "symbol": "IF2412.CFFEX",
    "side": "BUY",
    "order_type": "limit",
    "quantity": "1",
    "price": "3400.0",
}
# Compared between answers: what the order is, not which row or when.
SAME = ("symbol", "side", "order_type", "quantity", "price", "status", "time_in_force")


def _order_fields(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 201, response.text
    body = response.json()
    return {field: body[field] for field in SAME}


async def test_an_order_bound_by_hand_is_the_order_fastapi_binds(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    body = json.dumps(ORDER)
    plain = {**trader.headers, "Content-Type": "application/json", "Idempotency-Key": "k-1"}
    # A charset parameter is left to FastAPI (binding.json_body reads only the plain type).
    charset = {**plain, "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": "k-2"}
    bound = await client.post("/api/v1/orders", content=body, headers=plain)
    solved = await client.post("/api/v1/orders", content=body, headers=charset)
    assert _order_fields(bound) == _order_fields(solved) == {**ORDER, **_order_fields(bound)}
    # The bound path read the Idempotency-Key: a retry replays the first answer.
    replay = await client.post("/api/v1/orders", content=body, headers=plain)
    assert replay.status_code == 201
    assert replay.json()["id"] == bound.json()["id"]


@pytest.mark.parametrize(
    ("key", "status"),
    [("", 422), ("k" * 256, 422), ("tab\tkey", 422), ("k" * 255, 201), (" ~", 201)],
)
async def test_the_idempotency_key_rule_is_the_same_both_ways(
    client: httpx.AsyncClient, make_account: MakeAccount, key: str, status: int
) -> None:
    trader = await make_account()
    answers = []
    for content_type in ("application/json", "application/json; charset=utf-8"):
        headers = {**trader.headers, "Content-Type": content_type, "Idempotency-Key": key}
        response = await client.post("/api/v1/orders", content=json.dumps(ORDER), headers=headers)
        answers.append(response.status_code)
        if status == 422:
            error = response.json()
            assert error["error"] == "validation_error"
            assert error["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    # The second send of a valid key is a replay of the first (201 again), not a new order.
    assert answers == [status, status]


@pytest.mark.parametrize(
    ("path_id", "status"),
    [("{id}", 200), ("00{id}", 200), ("0", 422), (str(BIGINT_MAX + 1), 422), ("1e3", 422)],
)
async def test_an_order_id_bound_by_hand_reads_as_fastapi_reads_it(
    client: httpx.AsyncClient, make_account: MakeAccount, path_id: str, status: int
) -> None:
    trader = await make_account()
    placed = await client.post("/api/v1/orders", json=ORDER, headers=trader.headers)
    order_id = placed.json()["id"]
    response = await client.get(
        f"/api/v1/orders/{path_id.format(id=order_id)}", headers=trader.headers
    )
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == placed.json() | {"status": response.json()["status"]}
    else:
        assert response.json()["detail"][0]["loc"] == ["path", "order_id"]


def test_only_plainly_valid_values_are_bound_by_hand() -> None:
    class Path:
        def __init__(self, value: str) -> None:
            self.path_params = {"order_id": value}
            self.headers = {"idempotency-key": value}

    assert [resource_id(Path(raw), "order_id") for raw in ("7", "007", str(BIGINT_MAX))] == [
        7,
        7,
        BIGINT_MAX,
    ]
    refused = ("", "0", "-1", "+7", " 7", "7 ", "1_0", "٣", "9" * 5000, str(BIGINT_MAX + 1))
    assert [resource_id(Path(raw), "order_id") for raw in refused] == [None] * len(refused)
    assert idempotency_key(Path("a b~"))[0]
    assert not idempotency_key(Path("tab\t"))[0]


def test_the_hot_order_endpoints_are_bound_by_hand() -> None:
    # The bench's POST and GET rows measure the bound path: these two must keep their binder.
    assert binder_of(place_order) is not None
    assert binder_of(get_order) is not None
