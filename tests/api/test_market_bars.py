"""Market history over REST: recorded bars, aggregation, coverage, import, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.app.container import AppContainer
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.market_history import IF, bars, inject, minutes_csv, settle

CSV_TYPE = {"content-type": "text/csv"}


async def test_paper_ticks_become_bars_once_their_minute_is_over(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    admin, viewer = await make_account(UserRole.ADMIN), await make_account(UserRole.VIEWER)
    # The first tick only sets the volume the next ones are counted from.
    await inject(
        client,
        admin,
        [
            ("2024-03-04T08:59:59Z", "3500", 100),
            ("2024-03-04T09:00:05Z", "3500", 110),
            ("2024-03-04T09:00:30Z", "3501", 115),
            ("2024-03-04T09:00:50Z", "3499.8", 121),
        ],
    )
    await settle(container)
    window = {"symbol": IF, "start": "2024-03-04T09:00:00Z", "end": "2024-03-04T10:00:00Z"}
    assert await bars(client, viewer, **window) == []  # 09:00 is still forming, in memory
    await inject(
        client,
        admin,
        [("2024-03-04T09:01:10Z", "3500.6", 130), ("2024-03-04T09:02:00Z", "3501", 131)],
    )
    await settle(container)
    assert await bars(client, viewer, **window) == [
        {
            "datetime": "2024-03-04T09:00:00Z",
            "open": "3500",
            "high": "3501",
            "low": "3499.8",
            "close": "3499.8",
            "volume": "21",
            "turnover": "0",
            "open_interest": "0",
        },
        {
            "datetime": "2024-03-04T09:01:00Z",
            "open": "3500.6",
            "high": "3500.6",
            "low": "3500.6",
            "close": "3500.6",
            "volume": "9",
            "turnover": "0",
            "open_interest": "0",
        },
    ]
    [five] = await bars(client, viewer, **window, interval="5m")
    assert (five["open"], five["high"], five["low"], five["close"], five["volume"]) == (
        "3500",
        "3501",
        "3499.8",
        "3500.6",
        "30",
    )


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"interval": "2m"}, ["query", "interval"]),
        ({"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, ["query", "start"]),
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 10_001}, ["query", "limit"]),
        ({"start": "1900-01-01T00:00:00Z"}, ["query", "start"]),
        ({"start": "yesterday"}, ["query", "start"]),
        ({"end": "0.0"}, ["query", "end"]),  # not Unix seconds: ISO 8601 only
        ({"start": "1700000000"}, ["query", "start"]),
        ({"start": "0001-01-01T00:30:00+01:00"}, ["query", "start"]),  # before year 1 in UTC
        ({"end": "9999-12-31T23:30:00-01:00"}, ["query", "end"]),  # after 9999 in UTC
        ({"page": 2}, ["query", "page"]),
        ({"symbol": "not a symbol"}, ["query", "symbol"]),
    ],
)
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    params: dict,
    where: list[str],  # type: ignore[type-arg]
) -> None:
    trader = await make_account()
    query = {"symbol": IF, **params}
    response = await client.get("/api/v1/market/bars", params=query, headers=trader.headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert where in [error["loc"] for error in body["detail"]]


async def test_reading_needs_a_user_and_coverage_a_stored_interval(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    assert (await client.get("/api/v1/market/bars", params={"symbol": IF})).status_code == 401
    viewer = await make_account(UserRole.VIEWER)
    coverage = await client.get(
        "/api/v1/market/bars/coverage", params={"interval": "5m"}, headers=viewer.headers
    )
    assert coverage.status_code == 422
    empty = await client.get("/api/v1/market/bars", params={"symbol": IF}, headers=viewer.headers)
    assert empty.json() == {"symbol": IF, "interval": "1m", "bars": [], "next_start": None}


async def test_a_large_csv_imports_past_the_body_limit_and_overlaps_are_replaced(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    admin = await make_account(UserRole.ADMIN)
    start = datetime(2023, 6, 1, tzinfo=UTC)
    content = minutes_csv(start, 30_000)
    assert len(content) > container.config.max_body_bytes
    query = {"symbol": "rb2501.SHFE", "interval": "1m"}
    response = await client.post(
        "/api/v1/market/bars/import",
        params=query,
        content=content,
        headers={**admin.headers, **CSV_TYPE},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "symbol": "rb2501.SHFE",
        "interval": "1m",
        "bars": 30_000,
        "first": "2023-06-01T00:00:00Z",
        "last": "2023-06-21T19:59:00Z",
    }
    coverage = await client.get(
        "/api/v1/market/bars/coverage", params={"symbol": "rb2501.SHFE"}, headers=admin.headers
    )
    [entry] = coverage.json()
    assert (entry["count"], entry["gaps"], entry["gaps_truncated"]) == (30_000, [], False)
    # The same minutes again, other closes, as a multipart upload: replaced, not added.
    shifted = minutes_csv(start + timedelta(minutes=100), 50, close_shift=2)
    response = await client.post(
        "/api/v1/market/bars/import",
        params=query,
        files={"file": ("bars.csv", shifted, "text/csv")},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    window = {"symbol": "rb2501.SHFE", "start": "2023-06-01T01:40:00Z", "limit": 1}
    [bar] = await bars(client, admin, **window)
    assert bar["close"] == "3002"  # 3000 + 0.5 * (100 % 40) + 2
    coverage = await client.get(
        "/api/v1/market/bars/coverage", params={"symbol": "rb2501.SHFE"}, headers=admin.headers
    )
    assert coverage.json()[0]["count"] == 30_000
    # The exemption is this route's: an order body as large is still refused.
    too_large = await client.post(
        "/api/v1/orders",
        content=content,
        headers={**admin.headers, "content-type": "application/json"},
    )
    assert too_large.status_code == 413


async def test_bad_lines_are_named_and_nothing_is_stored(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account(UserRole.ADMIN)
    query = {"symbol": "rb2501.SHFE", "interval": "1m"}
    start = datetime(2023, 7, 1, tzinfo=UTC)
    before = minutes_csv(start, 100)
    response = await client.post(
        "/api/v1/market/bars/import",
        params=query,
        content=before,
        headers={**admin.headers, **CSV_TYPE},
    )
    assert response.status_code == 200
    lines = minutes_csv(start, 20_000, close_shift=1).decode().splitlines()
    lines[15_001] = lines[15_001].replace(",", ",-", 1)  # line 15002: a negative open
    lines[17_999] = lines[17_999].split(",")[0] + ",1,2,3"  # line 18000: too few fields
    response = await client.post(
        "/api/v1/market/bars/import",
        params=query,
        content="\n".join(lines).encode(),
        headers={**admin.headers, **CSV_TYPE},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_bar_data"
    assert body["detail"].startswith("line 15002: open -")
    assert "line 18000: expected 8 fields, found 4" in body["detail"]
    coverage = await client.get(
        "/api/v1/market/bars/coverage", params={"symbol": "rb2501.SHFE"}, headers=admin.headers
    )
    assert coverage.json()[0]["count"] == 100  # the earlier import, untouched
    [bar] = await bars(client, admin, symbol="rb2501.SHFE", start=start.isoformat(), limit=1)
    assert bar["close"] == "3000"


@pytest.mark.parametrize(
    ("role", "headers", "query", "status", "error"),
    [
        (UserRole.TRADER, CSV_TYPE, {}, 403, "forbidden"),
        (UserRole.VIEWER, CSV_TYPE, {}, 403, "forbidden"),
        (UserRole.ADMIN, {"content-type": "application/json"}, {}, 415, "unsupported_media_type"),
        (UserRole.ADMIN, CSV_TYPE, {"interval": "5m"}, 422, "validation_error"),
        (UserRole.ADMIN, CSV_TYPE, {"symbol": "a,b.SHFE"}, 422, "validation_error"),
    ],
)
async def test_import_refusals(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    role: UserRole,
    headers: dict[str, str],
    query: dict[str, str],
    status: int,
    error: str,
) -> None:
    account = await make_account(role)
    params = {"symbol": "rb2501.SHFE", "interval": "1m", **query}
    response = await client.post(
        "/api/v1/market/bars/import",
        params=params,
        content=minutes_csv(datetime(2023, 1, 1, tzinfo=UTC), 3),
        headers={**account.headers, **headers},
    )
    assert (response.status_code, response.json()["error"]) == (status, error)
