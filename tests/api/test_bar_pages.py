"""Pages of finished bars are kept; any write of the symbol, on any replica, retires them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import delete

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.models.enums import UserRole
from backend.models.market import MarketBar
from tests.api.conftest import Account, MakeAccount
from tests.api.market_history import bars, minutes_csv
from tests.api.stream import started_app
from tests.conftest import TEST_REDIS_URL

SYMBOL = "rb2501.SHFE"
WINDOW = {"symbol": SYMBOL, "start": "2023-08-01T00:00:00Z", "end": "2023-08-01T01:00:00Z"}


async def import_minutes(
    client: httpx.AsyncClient, admin: Account, *, shift: int = 0, count: int = 60
) -> None:
    content = minutes_csv(datetime(2023, 8, 1, tzinfo=UTC), count, close_shift=shift)
    response = await client.post(
        "/api/v1/market/bars/import",
        params={"symbol": SYMBOL, "interval": "1m"},
        content=content,
        headers={**admin.headers, "content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text


async def erase_behind_the_apps_back(container: AppContainer) -> None:
    """Rows gone without any RedFire writer knowing (another tool, a restore)."""
    async with container.database.session() as session:
        await session.execute(delete(MarketBar).where(MarketBar.symbol == SYMBOL))


async def test_a_finished_page_is_kept_until_the_symbol_is_written(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    admin = await make_account(UserRole.ADMIN)
    await import_minutes(client, admin)
    assert len(await bars(client, admin, **WINDOW)) == 60
    await erase_behind_the_apps_back(container)
    assert len(await bars(client, admin, **WINDOW)) == 60  # kept
    await import_minutes(client, admin, shift=1, count=30)  # a write: the page is read again
    found = await bars(client, admin, **WINDOW)
    assert len(found) == 30
    assert found[0]["close"] == "3001"


async def test_pages_with_recent_bars_are_read_every_time(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    admin = await make_account(UserRole.ADMIN)
    await import_minutes(client, admin)
    open_ended = {"symbol": SYMBOL, "start": WINDOW["start"]}
    assert len(await bars(client, admin, **open_ended)) == 60
    await erase_behind_the_apps_back(container)
    assert await bars(client, admin, **open_ended) == []


@pytest.mark.skipif(TEST_REDIS_URL is None, reason="replicas share generations through Redis")
async def test_an_import_on_another_replica_retires_the_page(
    client: httpx.AsyncClient, make_account: MakeAccount, make_config: Callable[..., AppConfig]
) -> None:
    admin = await make_account(UserRole.ADMIN)
    await import_minutes(client, admin)
    assert (await bars(client, admin, **WINDOW))[0]["close"] == "3000"
    async with started_app(make_config, replica_id="replica-b") as other:
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as replica_b:
            await import_minutes(replica_b, admin, shift=2)
    assert (await bars(client, admin, **WINDOW))[0]["close"] == "3002"
