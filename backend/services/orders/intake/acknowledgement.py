"""Acknowledgement: routed orders recorded, keyed answers stored, every caller answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from sqlalchemy.exc import DBAPIError

from backend.core.database.base import utcnow
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
T = TypeVar("T")


class OrderAcknowledgement:
    """The second step of a batch, after its booking committed: what routing did, and the
    answers (one statement on PostgreSQL when the gateway took every order)."""

    def __init__(self, database: AsyncDatabaseManager) -> None:
        self.database = database

    async def acknowledge(self, booked: list[Submission], routed: Routed) -> Announced | None:
        """Record submissions and routing failures, store keyed answers, answer everyone.

        Returns the orders it moved to `submitted` and the batch's rejected ones (by risk at
        booking, or by the gateway here), or None when it failed: nothing was committed
        (rarely, the moves of orders it recorded before one found moved on failed to record).
        """
        try:
            if routed.refused:
                recorded = await _retried(lambda: self._in_session(booked, routed))
            else:
                recorded = await self._at_once(booked, routed)
        except Exception as exc:
            _fail_all(booked, exc)
            return None
        orders = recorded.orders
        state_machine.record_all((OrderStatus.SUBMITTED, orders[i].side) for i in recorded.moved)
        state_machine.record_all((OrderStatus.REJECTED, orders[i].side) for i in recorded.refused)
        if recorded.refused:
            ORDER_REJECTIONS.labels(reason="gateway_error").inc(len(recorded.refused))
        for submission in booked:
            order_id = submission.order_id
            body = recorded.bodies[order_id].encode()
            submission.answer(OrderResult(201, orders[order_id], body=body))

        turned_down = [
            orders[s.order_id]
            for s in booked
            if s.rejection is not None or s.order_id in recorded.refused
        ]
        return Announced([orders[order_id] for order_id in recorded.moved], turned_down)

    async def _at_once(self, booked: list[Submission], routed: Routed) -> _Recorded:
        """Every routed order taken: each answer is the order as the move to submitted will
        leave it, stored by the statement that moves it (repository.submit_and_answer), which
        commits on its own; one round trip on PostgreSQL.

        An order something else moved on first (a cancel, say) keeps its state and is
        recorded as the session path records it, with its row as it now stands.
        """
        now = utcnow()
        rows = {s.order_id: _booked_row(s.row) for s in booked}
        for order_id, vt_orderid in routed.taken.items():
            change = {"status": OrderStatus.SUBMITTED, "vt_orderid": vt_orderid, "updated_at": now}
            rows[order_id] = {**rows[order_id], **change}
        orders, bodies = _rendered(rows)
        answers = [
            (
                s.claim.user_id,
                s.claim.key,
                201,
                bodies[s.order_id],
                s.order_id if s.order_id in routed.taken else None,
            )
            for s in booked
            if s.claim is not None
        ]
        moved = await _retried(
            lambda: repository.submit_and_answer(self.database, routed.taken, answers, now=now)
        )
        overtaken = [s for s in booked if s.order_id in routed.taken and s.order_id not in moved]
        if overtaken:
            # Should this fail, the moves above stay committed (with their keys' answers):
            # their callers get the error, a retry of their key the stored answer.
            taken = {s.order_id: routed.taken[s.order_id] for s in overtaken}
            current = await _retried(lambda: self._in_session(overtaken, Routed(taken=taken)))
            orders |= current.orders
            bodies |= current.bodies
        return _Recorded(moved, set(), orders, bodies)

    async def _in_session(self, booked: list[Submission], routed: Routed) -> _Recorded:
        """Record in one transaction, each answer the order as the statement that wrote it
        last returned it."""
        async with self.database.session() as session:
            moved, submitted = await repository.mark_submitted(session, routed.taken)
            refused, rejected = await repository.mark_rejected(session, routed.refused)
            rows = {s.order_id: _booked_row(s.row) for s in booked} | submitted | rejected
            orders, bodies = _rendered(rows)
            answers = [
                (s.claim.user_id, s.claim.key, 201, bodies[s.order_id])
                for s in booked
                if s.claim is not None
            ]
            if answers:
                await repository.store_responses(session, answers)
        return _Recorded(moved, refused, orders, bodies)


@dataclass(frozen=True, slots=True)
class _Recorded:
    """What an acknowledgement recorded: the ids it moved to submitted, those it rejected,
    and every order of the batch as answered (OrderRead, and its JSON)."""

    moved: set[int]
    refused: set[int]
    orders: dict[int, OrderRead]
    bodies: dict[int, str]


@dataclass(frozen=True, slots=True)
class Announced:
    """What a batch's acknowledgement announces once committed: the orders it moved to
    `submitted` (to the order listeners) and its rejected ones (to the rejection listeners)."""

    submitted: list[OrderRead]
    rejected: list[OrderRead]


def risk_rejected(booked: list[Submission]) -> list[OrderRead]:
    """The batch's orders risk rejected: committed with the booking, whatever came after."""
    return [_order_read(s.row) for s in booked if s.rejection is not None]


async def _retried(record: Callable[[], Awaitable[T]]) -> T:
    """`record()`, again when it failed on a conflict: the event processor may hold these rows
    (a fill arrived already), a deadlock or serialization failure aborts one side, and these
    statements are repeatable (what failed committed nothing)."""
    for attempt in range(1, ACK_ATTEMPTS + 1):
        try:
            return await record()
        except DBAPIError as exc:
            if attempt == ACK_ATTEMPTS or exc.connection_invalidated:
                raise
            logger.warning("order_ack_retry", attempt=attempt, error=repr(exc))
    raise AssertionError("unreachable")


def _fail_all(booked: list[Submission], error: Exception) -> None:
    """The orders are stored; the events and reconciliation will settle them."""
    logger.warning("order_ack_failed", orders=len(booked), error=repr(error))
    for submission in booked:
        submission.fail(error)


def _booked_row(row: StoredOrder | None) -> StoredOrder:
    assert row is not None  # every booked order was inserted
    return row


def _rendered(rows: dict[int, StoredOrder]) -> tuple[dict[int, OrderRead], dict[int, str]]:
    """Each order as the API shows it, and as JSON."""
    orders = {order_id: OrderRead.model_validate(row) for order_id, row in rows.items()}
    return orders, {order_id: read.model_dump_json() for order_id, read in orders.items()}


def _order_read(row: StoredOrder | None) -> OrderRead:
    """The order a statement returned."""
    return OrderRead.model_validate(_booked_row(row))
