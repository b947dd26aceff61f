"""schemathesis over every operation of /openapi.json, as a trader and as an admin.

No 5xx; every answer has a documented status, content type, headers and schema; every error
has the contract's shape. `FUZZ_MAX_EXAMPLES` sets examples per operation and role (`make test`:
the default; `make fuzz`: far more). Generation is derandomized, so a run is reproducible;
`FUZZ_SEED=<n>` generates other examples (reproducible for that n).

Each (operation, role) test gets fresh accounts and a clean database (the `app` fixture), so an
operation that revokes its token or halts trading (logout, password change, halt) only affects
its own examples. The fuzzer runs in a worker thread; see tests/api/contract.py for why.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.main import app as module_app
from backend.models.enums import UserRole
from tests.api.conftest import Account, MakeAccount
from tests.api.contract import assert_error_shape, bridged_session

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
# Unset: the same examples every run. A number: other examples, the same again for that number.
FUZZ_SEED = os.environ.get("FUZZ_SEED")
BASE_URL = "http://test"
# Answers about the service itself, not errors: the health report keeps its own shape on 503.
HEALTH_REPORTS = {"/health", "/health/ready"}
STRATEGY = {"name": "fuzz", "class_name": "MovingAverageStrategy", "symbol": "IF2412.CFFEX"}
ORDER = {"symbol": "IF2412.CFFEX", "side": "BUY", "order_type": "limit", "quantity": 1}


def error_shape(ctx: CheckContext, response: schemathesis.Response, case: Case) -> bool | None:
    """Every answer carries X-Request-ID; every 4xx/5xx is `{error, detail, request_id}`."""
    headers = {name: values[0] for name, values in response.headers.items()}
    assert headers.get("x-request-id"), f"no X-Request-ID on {response.status_code}"
    if response.status_code < 400 or case.operation.path in HEALTH_REPORTS:
        return None
    assert_error_shape(response.status_code, headers, json.loads(response.content))
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    error_shape,
]
SCHEMA = schemathesis.openapi.from_dict(module_app.openapi())
OPERATIONS = [
    (method.upper(), path)
    for path, methods in module_app.openapi()["paths"].items()
    for method in methods
]


def fuzz(operation: Any, session: requests.Session, headers: dict[str, str]) -> int:
    """Run the bounded Hypothesis search over one operation; returns the examples sent."""
    sent = 0
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    cases = st.one_of([operation.as_strategy(generation_mode=mode) for mode in modes])

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=FUZZ_SEED is None,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def run(case: Case) -> None:
        nonlocal sent
        sent += 1
        response = case.call(base_url=BASE_URL, session=session, headers=headers)
        case.validate_response(response, checks=CHECKS)

    if FUZZ_SEED is not None:
        run = seed(int(FUZZ_SEED))(run)
    run()
    return sent


async def _seed(client: httpx.AsyncClient, account: Account) -> None:
    """Objects for the {id} routes to find: a strategy and an open order."""
    response = await client.post("/api/v1/strategies", json=STRATEGY, headers=account.headers)
    assert response.status_code == 201, response.text
    order = {**ORDER, "price": "3500"}
    response = await client.post("/api/v1/orders", json=order, headers=account.headers)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("role", [UserRole.TRADER, UserRole.ADMIN], ids=lambda role: role.value)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_operation_keeps_the_contract(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    request: pytest.FixtureRequest,
    role: UserRole,
    method: str,
    path: str,
) -> None:
    account = await make_account(role=role)
    await _seed(client, account)
    session = bridged_session(client, asyncio.get_running_loop())
    operation = SCHEMA[path][method]
    sent = await asyncio.to_thread(fuzz, operation, session, account.headers)
    # The figure for the fuzzing report: `--junitxml=... -o junit_family=xunit1` records it.
    request.node.user_properties.append(("examples", sent))
    assert sent >= 1
