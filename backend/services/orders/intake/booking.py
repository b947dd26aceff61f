"""Booking: a batch's orders stored in one transaction, pending or risk-rejected."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow
from backend.core.database.conflicts import aborted_by_conflict, lost_unique_race
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import ConflictError, DomainValidationError, RedFireError
from backend.core.monitoring.metrics import ORDER_BATCH_SIZE, ORDER_REJECTIONS
from backend.models.enums import OrderStatus
from backend.models.strategy import Strategy
from backend.services.orders import idempotency, repository, state_machine
from backend.services.orders.idempotency import StoredResponse
from backend.services.orders.intake.pretrade import PreTradeRisk
from backend.services.orders.intake.submission import OrderResult, Submission
from backend.services.orders.intake.transactions import BookingTransactions
from backend.services.orders.owners import confirm_owners
from backend.services.orders.repository import KeyIdent, NewOrder
from backend.services.orders.repository.books import BookingReads

logger = structlog.get_logger(__name__)

BOOK_ATTEMPTS = 3


class OrderBooking:
    """Stores a batch's orders and answers those that stop here (refused, replayed, failed)."""

    def __init__(
        self,
        *,
        database: AsyncDatabaseManager,
        pretrade: PreTradeRisk,
        replica: str,
        default_gateway: str,
        waiting: Callable[[], bool],
    ) -> None:
        self.database = database
        self.pretrade = pretrade
        self.replica = replica
        self.default_gateway = default_gateway
        self.transactions = BookingTransactions(database, waiting)

    async def book(self, batch: list[Submission]) -> list[Submission]:
        """Book; again when PostgreSQL aborted the transaction to break a lock cycle, or
        another replica booked the same client order id (or amended the same order) between
        this booking's check and its insert: checked again, that order is 409, the others
        are booked.

        Such a cycle is rare (a retried key whose first answer is being stored while that
        order is rejected, say) and the booking is repeatable: everything it wrote to the
        database went with the aborted transaction. Only the per-second rate counts in the
        cache are taken again, so the batch counts twice towards this second's limit.
        Returns the orders stored (committed).
        """
        for attempt in range(1, BOOK_ATTEMPTS + 1):
            try:
                return await self._book([s for s in batch if not s.future.done()])
            except DBAPIError as exc:
                if attempt == BOOK_ATTEMPTS or not (
                    aborted_by_conflict(exc) or lost_unique_race(exc)
                ):
                    raise
                logger.warning("order_batch_retry", attempt=attempt, error=repr(exc))
        raise AssertionError("unreachable")

    async def _book(self, batch: list[Submission]) -> list[Submission]:
        """Store the batch's orders, pending or risk-rejected; answer those that stop here."""
        if not batch:
            return []
        ORDER_BATCH_SIZE.observe(len(batch))
        # The limits the shared cache holds are read meanwhile: a guess of the committed
        # ones, which the booking reads with its books (repository/books.py).
        cached_limits = asyncio.ensure_future(self.pretrade.cached_limits())
        try:
            async with self.transactions.transaction() as session:
                batch = await _check_strategies(session, batch)
                batch = await _check_client_ids(session, batch)
                batch = await _check_replacements(session, batch)
                # The owners' statement leaves for PostgreSQL first; the cached limits and
                # then the rate counts they decide travel to Redis while it runs.
                confirming = asyncio.ensure_future(self._confirm_and_read(session, batch))
                try:
                    cached = await cached_limits
                    counted = self.pretrade.counted(batch, cached)
                    rates = await self.pretrade.count_rates(counted)
                except BaseException:
                    await _settled(confirming)  # the session idle before it is rolled back
                    raise
                refusals, won, reads = await confirming
                kept = await _answer_owners_and_claims(session, batch, refusals, won)
                if len(kept) < len(batch):
                    kept_ids = {id(s) for s in kept}
                    await self.pretrade.uncount([s for s in counted if id(s) not in kept_ids])
                    counted = [s for s in counted if id(s) in kept_ids]
                if not kept:
                    return []
                batch = kept
                await self.pretrade.assess(session, batch, cached, reads, counted, rates)
                await self._insert(session, batch)
        finally:
            cached_limits.cancel()
        state_machine.record_all((OrderStatus.PENDING, s.request.side) for s in batch)
        rejected = [s for s in batch if s.rejection is not None]
        state_machine.record_all((OrderStatus.REJECTED, s.request.side) for s in rejected)
        for submission in rejected:
            ORDER_REJECTIONS.labels(reason=submission.rejection).inc()
        return batch

    async def _confirm_and_read(
        self, session: AsyncSession, batch: list[Submission]
    ) -> tuple[dict[int, RedFireError], set[KeyIdent], BookingReads]:
        """owners.confirm_owners: the owners' check, their keys claimed, their books read."""
        keyed = [s.claim for s in batch if s.claim is not None]
        return await confirm_owners(
            session,
            {s.user_id for s in batch},
            idempotency.distinct_claims(keyed),
            utcnow(),
            self.pretrade.buying_power.initial_balance,
        )

    async def _insert(self, session: AsyncSession, batch: list[Submission]) -> None:
        """Store the batch's orders and point their Idempotency-Keys at them."""
        for submission in batch:
            submission.client_order_id = secrets.token_hex(16)
        new_orders = [
            NewOrder(
                user_id=submission.user_id,
                symbol=submission.request.symbol,
                side=submission.request.side,
                order_type=submission.request.order_type,
                quantity=submission.request.quantity,
                price=submission.request.price,
                limit_price=submission.request.limit_price,
                time_in_force=submission.request.time_in_force,
                status=_initial_status(submission),
                reject_reason=submission.rejection,
                reject_detail=None if submission.breach is None else submission.breach.detail(),
                client_order_id=submission.client_order_id,
                client_ref=submission.request.client_order_id or submission.client_order_id,
                strategy_id=submission.request.strategy_id,
                hold_price=submission.hold_price,
                replaces_order_id=submission.replaces_order_id,
                key=None if submission.claim is None else submission.claim.key,
            )
            for submission in batch
        ]
        stored = await repository.insert_orders(
            session, new_orders, gateway=self.default_gateway, replica=self.replica, now=utcnow()
        )
        for submission, row in zip(batch, stored, strict=True):
            submission.order_id = row["id"]
            submission.row = row


async def _check_strategies(session: AsyncSession, batch: list[Submission]) -> list[Submission]:
    """An order may only name one of its owner's strategies (its fills feed that strategy)."""
    named = {s.request.strategy_id for s in batch if s.request.strategy_id is not None}
    if not named:
        return batch
    statement = select(Strategy.id, Strategy.user_id).where(Strategy.id.in_(named))
    owners: dict[int, int] = {row.id: row.user_id for row in await session.execute(statement)}
    kept = []
    for submission in batch:
        strategy_id = submission.request.strategy_id
        if strategy_id is None or owners.get(strategy_id) == submission.user_id:
            kept.append(submission)
            continue
        problem = {
            "type": "unknown_strategy",
            "loc": ["body", "strategy_id"],
            "msg": f"no strategy {strategy_id} of yours",
        }
        submission.fail(DomainValidationError([problem]))
    return kept


async def _check_client_ids(session: AsyncSession, batch: list[Submission]) -> list[Submission]:
    """A client order id names one order of its user: a second one is 409, nothing stored.

    Checked before the Idempotency-Keys are claimed, so a refused order leaves no key behind.
    """
    chosen = {(s.user_id, s.request.client_order_id) for s in batch if s.request.client_order_id}
    if not chosen:
        return batch
    taken = set(await repository.taken_client_ids(session, chosen))
    kept = []
    for submission in batch:
        client_id = submission.request.client_order_id
        if client_id is None:
            kept.append(submission)
            continue
        if (submission.user_id, client_id) in taken:
            submission.fail(
                ConflictError(
                    f"client_order_id {client_id!r} names another of your orders",
                    code="duplicate_client_order_id",
                )
            )
            continue
        taken.add((submission.user_id, client_id))  # a second one in this batch
        kept.append(submission)
    return kept


async def _check_replacements(session: AsyncSession, batch: list[Submission]) -> list[Submission]:
    """An order is replaced once: a second amendment of it is 409, nothing stored."""
    wanted = {s.replaces_order_id for s in batch if s.replaces_order_id is not None}
    if not wanted:
        return batch
    replaced = await repository.replaced_orders(session, wanted)
    kept = []
    for submission in batch:
        order_id = submission.replaces_order_id
        if order_id is not None and order_id in replaced:
            message = f"order {order_id} was replaced already"
            submission.fail(ConflictError(message, code="order_not_amendable"))
            continue
        if order_id is not None:
            replaced.add(order_id)
        kept.append(submission)
    return kept


async def _answer_owners_and_claims(
    session: AsyncSession,
    batch: list[Submission],
    refusals: dict[int, RedFireError],
    won: set[KeyIdent],
) -> list[Submission]:
    """Only active traders' orders are booked, whatever a cached token check said (owners.py);
    a retried Idempotency-Key is answered here (idempotency.py), and goes no further. The
    keys were claimed with the owner check, the last of the checks: only for orders that
    passed the others. Returns the orders that go on to risk."""
    for submission in batch:
        if (refusal := refusals.get(submission.user_id)) is not None:
            submission.fail(refusal)
    batch = [s for s in batch if s.user_id not in refusals]
    keyed_batch = [s for s in batch if s.claim is not None]
    if not keyed_batch:
        return batch
    claims = [s.claim for s in keyed_batch if s.claim is not None]
    outcomes = await idempotency.claim_keys(session, claims, won)
    stopped: set[int] = set()
    for submission, outcome in zip(keyed_batch, outcomes, strict=True):
        if outcome is None:
            continue
        stopped.add(id(submission))
        if isinstance(outcome, StoredResponse):
            submission.answer(OrderResult(outcome.status_code, replayed_body=outcome.body))
        else:
            submission.fail(outcome)
    return [s for s in batch if id(s) not in stopped]


async def _settled(task: asyncio.Future[Any]) -> None:
    """Wait for `task` to end, its outcome dropped (an error raised elsewhere wins)."""
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: asyncio does not log it as forgotten


def _initial_status(submission: Submission) -> OrderStatus:
    """A risk breach is answered as pending -> rejected before anyone saw it pending."""
    return OrderStatus.PENDING if submission.rejection is None else OrderStatus.REJECTED
