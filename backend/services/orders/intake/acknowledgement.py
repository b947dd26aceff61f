"""Acknowledgement: routed orders recorded, keyed answers stored, every caller answered."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy.exc import DBAPIError

from backend.core.database.manager import AsyncDatabaseManager
from backend.core.monitoring.metrics import ORDER_REJECTIONS
from backend.models.enums import OrderStatus
from backend.schemas.orders import OrderRead
from backend.services.orders import repository, state_machine
from backend.services.orders.intake.routing import Routed
from backend.services.orders.intake.submission import OrderResult, Submission
from backend.services.orders.repository import StoredOrder

logger = structlog.get_logger(__name__)

ACK_ATTEMPTS = 3


class OrderAcknowledgement:
    """The second transaction of a batch: what routing did, and the answers."""

    def __init__(self, database: AsyncDatabaseManager) -> None:
        self.database = database

    async def acknowledge(self, booked: list[Submission], routed: Routed) -> Announced | None:
        """Record submissions and routing failures, store keyed answers, answer everyone.

        Returns the orders it moved to `submitted` and the batch's rejected ones (by risk at
        booking, or by the gateway here), or None when nothing was committed.
        """
        for attempt in range(1, ACK_ATTEMPTS + 1):
            try:
                async with self.database.session() as session:
                    moved, submitted = await repository.mark_submitted(session, routed.taken)
                    refused, rejected = await repository.mark_rejected(session, routed.refused)
                    # Each order as the statement that wrote it last returned it.
                    rows = {s.order_id: s.row for s in booked} | submitted | rejected
                    orders = {order_id: _order_read(row) for order_id, row in rows.items()}
                    bodies = {order_id: read.model_dump_json() for order_id, read in orders.items()}
                    answers = [
                        (s.claim.user_id, s.claim.key, 201, bodies[s.order_id])
                        for s in booked
                        if s.claim is not None
                    ]
                    if answers:
                        await repository.store_responses(session, answers)
                break
            except DBAPIError as exc:
                # The event processor may hold these rows (a fill arrived already): a deadlock
                # or serialization failure aborts one side, and these statements are repeatable.
                if attempt == ACK_ATTEMPTS or exc.connection_invalidated:
                    _fail_all(booked, exc)
                    return None
                logger.warning("order_ack_retry", attempt=attempt, error=repr(exc))
            except Exception as exc:
                _fail_all(booked, exc)
                return None
        for order_id in moved:
            state_machine.record(OrderStatus.SUBMITTED, orders[order_id].side)
        for order_id in refused:
            state_machine.record(OrderStatus.REJECTED, orders[order_id].side)
            ORDER_REJECTIONS.labels(reason="gateway_error").inc()
        for submission in booked:
            order_id = submission.order_id
            submission.answer(OrderResult(201, orders[order_id], body=bodies[order_id].encode()))

        turned_down = [
            orders[s.order_id] for s in booked if s.rejection is not None or s.order_id in refused
        ]
        return Announced([orders[order_id] for order_id in moved], turned_down)


@dataclass(frozen=True, slots=True)
class Announced:
    """What a batch's acknowledgement announces once committed: the orders it moved to
    `submitted` (to the order listeners) and its rejected ones (to the rejection listeners)."""

    submitted: list[OrderRead]
    rejected: list[OrderRead]


def risk_rejected(booked: list[Submission]) -> list[OrderRead]:
    """The batch's orders risk rejected: committed with the booking, whatever came after."""
    return [_order_read(s.row) for s in booked if s.rejection is not None]


def _fail_all(booked: list[Submission], error: Exception) -> None:
    """The orders are stored; the events and reconciliation will settle them."""
    logger.warning("order_ack_failed", orders=len(booked), error=repr(error))
    for submission in booked:
        submission.fail(error)


def _order_read(row: StoredOrder | None) -> OrderRead:
    """The order a statement returned."""
    assert row is not None  # every booked order was inserted
    return OrderRead.model_validate(row)
