"""A booking cancelled while Redis hangs (intake/booking.py).

The owners' statement leaves for PostgreSQL before the booking awaits the cache: cancelled
while Redis (paused through a proxy the test owns) has not answered, the booking waits for
that statement to end and then rolls the transaction back. Nothing it wrote stays, its
Idempotency-Key claim included, its connection is left clean, and the same key books
normally once Redis answers again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.sql import Executable

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.main import create_app
from backend.models.order import Order
from backend.services.orders.buying_power import BuyingPower
from backend.services.orders.idempotency import KeyClaim
from backend.services.orders.intake.booking import OrderBooking
from backend.services.orders.intake.pretrade import PreTradeRisk
from backend.services.orders.intake.submission import Submission
from backend.services.orders.repository import stored_keys
from backend.services.orders.risk import OrderRateLimiter
from tests.conftest import TEST_REDIS_URL
from tests.reliability.support import TcpProxy, requires_services, wait_until
from tests.services.orders.rows import LIMIT_BUY, new_user

pytestmark = requires_services
# The booking's connection after the owners' statement, while the booking awaits Redis.
AFTER_OWNERS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND state = 'idle in transaction' AND query LIKE 'WITH owners AS%'"
)


def _booking(container: AppContainer) -> OrderBooking:
    """A booking on the app's own database, market, limits and cache."""
    trading = container.trading
    pretrade = PreTradeRisk(
        market=trading.market,
        risk=trading.risk,
        rate_limiter=OrderRateLimiter(container.cache),
        buying_power=BuyingPower(trading.market, trading.accounts),
    )
    return OrderBooking(
        database=container.database,
        pretrade=pretrade,
        replica=container.config.replica_id,
        default_gateway="PAPER",
        waiting=lambda: False,
    )


def _submission(user_id: int, key: str) -> Submission:
    future = asyncio.get_running_loop().create_future()
    return Submission(user_id, LIMIT_BUY, KeyClaim(user_id, key, "fingerprint"), future)


async def _count(container: AppContainer, statement: Executable) -> int:
    async with container.database.session() as session:
        return int(await session.scalar(statement) or 0)


async def test_a_booking_cancelled_while_the_cache_hangs_leaves_nothing_behind(
    make_config: Callable[..., AppConfig],
) -> None:
    assert TEST_REDIS_URL is not None
    proxy = await TcpProxy.to(TEST_REDIS_URL)
    run = uuid.uuid4().hex[:8]
    prefix = f"redfire-cancelled-{run}:"
    # A long socket timeout: the cache keeps the booking waiting until the test cancels it.
    redis = {"url": proxy.url_for(TEST_REDIS_URL), "key_prefix": prefix, "socket_timeout": 60}
    app = create_app(make_config(replica_id=f"cancelled-{run}", redis=redis))
    try:
        async with app.router.lifespan_context(app):
            container: AppContainer = app.state.container
            try:
                await _cancel_and_book_again(container, proxy, run)
            finally:
                proxy.resume()
                await container.cache.clear()  # this test's keys
    finally:
        await proxy.close()


async def _cancel_and_book_again(container: AppContainer, proxy: TcpProxy, run: str) -> None:
    """Cancel a booking while the cache hangs; then book its key again."""
    user_id = await new_user(container, f"cancelled-{run}")
    booking = _booking(container)
    orders = select(func.count()).select_from(Order).where(Order.user_id == user_id)

    proxy.pause()
    cancelled = asyncio.ensure_future(booking.book([_submission(user_id, "k-1")]))
    await wait_until(
        lambda: _ran(container),
        within=10,
        interval=0.01,
        what="the owners' statement ran while the cache is awaited",
    )
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await _count(container, AFTER_OWNERS) == 0  # rolled back
    async with container.database.session() as session:
        assert await stored_keys(session, [(user_id, "k-1")]) == {}
    assert await _count(container, orders) == 0

    proxy.resume()
    booked = await booking.book([_submission(user_id, "k-1")])
    assert [s.rejection for s in booked] == [None]
    assert await _count(container, orders) == 1
    async with container.database.session() as session:
        assert set(await stored_keys(session, [(user_id, "k-1")])) == {(user_id, "k-1")}


async def _ran(container: AppContainer) -> bool:
    """The owners' statement ran; its transaction waits (on the cache)."""
    return await _count(container, AFTER_OWNERS) == 1
