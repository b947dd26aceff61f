"""The order state machine of API.md, enforced in this one place."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable

import structlog
from prometheus_client import Counter as CounterMetric

from backend.core.monitoring.metrics import ORDERS
from backend.models.enums import OrderSide, OrderStatus
from backend.models.order import Order

logger = structlog.get_logger(__name__)

S = OrderStatus
LEGAL_MOVES: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.SUBMITTED, S.REJECTED}),
    S.SUBMITTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
}


def sources_of(target: OrderStatus) -> frozenset[OrderStatus]:
    """Every status from which `target` is a legal move (for guarded SQL updates)."""
    return frozenset(status for status, moves in LEGAL_MOVES.items() if target in moves)


def record(status: OrderStatus, side: OrderSide) -> None:
    """Count an order arriving at `status` in the order metrics."""
    _counter(status, side).inc()


def record_all(arrivals: Iterable[tuple[OrderStatus, OrderSide]]) -> None:
    """Count a batch's orders arriving at their statuses: one increment (a lock) per
    (status, side), not per order."""
    for (status, side), count in Counter(arrivals).items():
        _counter(status, side).inc(count)


@functools.cache
def _counter(status: OrderStatus, side: OrderSide) -> CounterMetric:
    # A label lookup costs a lock and a validation; there are few (status, side) pairs.
    return ORDERS.labels(status=status.value, side=side.value)


def is_legal(current: OrderStatus, target: OrderStatus) -> bool:
    """True when `current -> target` is one of the contract's moves."""
    return target in LEGAL_MOVES[current]


def path_to(current: OrderStatus, target: OrderStatus) -> list[OrderStatus] | None:
    """The legal moves from `current` to `target`, or None when it cannot be reached.

    A gateway may report a fill before RedFire saw the acknowledgement; the order then
    passes through `submitted` on its way, so the history stays on the contract's graph.
    """
    if current == target and current is not S.PARTIALLY_FILLED:
        return []
    if is_legal(current, target):
        return [target]
    if current is S.PENDING and is_legal(S.SUBMITTED, target):
        return [S.SUBMITTED, target]
    return None


def move(order: Order, target: OrderStatus, *, reason: str | None = None) -> bool:
    """Move `order` to `target` if the contract allows; an illegal move is logged, not written."""
    steps = path_to(order.status, target)
    if steps is None:
        logger.warning(
            "illegal_order_transition",
            order_id=order.id,
            current=order.status.value,
            target=target.value,
        )
        return False
    for step in steps:
        order.status = step
        record(step, order.side)
    if target is S.REJECTED and reason is not None:
        order.reject_reason = reason[:255]
    return True
