"""How the intake cuts its queue into bookings (intake/batcher.py): all of a short queue at
once, a deep one in two halves."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from backend.app.container import AppContainer
from backend.services.orders.intake.batcher import MAX_BATCH, SPLIT_ABOVE, batch_size
from tests.services.orders.rows import LIMIT_BUY, new_user


def test_a_queue_up_to_the_split_is_booked_whole_a_deeper_one_in_halves() -> None:
    assert [batch_size(n) for n in (1, 2, SPLIT_ABOVE)] == [1, 2, SPLIT_ABOVE]
    assert batch_size(SPLIT_ABOVE + 1) == SPLIT_ABOVE  # half would be too small a batch
    assert [batch_size(n) for n in (64, 65, 200)] == [32, 33, 100]
    assert batch_size(2 * MAX_BATCH) == MAX_BATCH
    assert batch_size(10 * MAX_BATCH) == MAX_BATCH


def _batches() -> tuple[float, float]:
    """Bookings so far, and the orders they took (redfire_order_batch_size)."""
    count = REGISTRY.get_sample_value("redfire_order_batch_size_count") or 0.0
    total = REGISTRY.get_sample_value("redfire_order_batch_size_sum") or 0.0
    return count, total


async def test_sixty_four_orders_queued_at_once_are_booked_in_two_bookings_of_32(
    container: AppContainer,
) -> None:
    user_id = await new_user(container, "batches")
    intake = container.trading.orders.intake
    count, total = _batches()
    # Each submission queues its order before the intake's worker runs again: it finds 64.
    placed = [asyncio.ensure_future(intake.submit(user_id, LIMIT_BUY, None)) for _ in range(64)]
    results = await asyncio.gather(*placed)
    assert [result.status_code for result in results] == [201] * 64
    assert len({result.order.id for result in results if result.order is not None}) == 64
    after_count, after_total = _batches()
    assert (after_count - count, after_total - total) == (2, 64)
