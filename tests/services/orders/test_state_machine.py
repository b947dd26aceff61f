"""The order state machine: every legal and illegal move."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.models.order import Order
from backend.services.orders.state_machine import LEGAL_MOVES, is_legal, move, path_to

S = OrderStatus
CONTRACT_MOVES = {
    (S.PENDING, S.SUBMITTED),
    (S.PENDING, S.REJECTED),
    (S.SUBMITTED, S.PARTIALLY_FILLED),
    (S.SUBMITTED, S.FILLED),
    (S.SUBMITTED, S.CANCELLED),
    (S.SUBMITTED, S.REJECTED),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    (S.PARTIALLY_FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, S.CANCELLED),
    (S.PARTIALLY_FILLED, S.REJECTED),
}


def _order(status: OrderStatus) -> Order:
    return Order(
        id=1,
        user_id=1,
        symbol="IF2412.CFFEX",
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal(1),
        price=Decimal(3500),
        status=status,
    )


@pytest.mark.parametrize(("current", "target"), sorted(itertools.product(S, S)))
def test_only_the_contract_moves_are_legal(current: OrderStatus, target: OrderStatus) -> None:
    assert is_legal(current, target) == ((current, target) in CONTRACT_MOVES)


@pytest.mark.parametrize(
    ("final", "target"),
    [
        (final, target)
        for final in (S.FILLED, S.CANCELLED, S.REJECTED)
        for target in S
        if target is not final
    ],  # a repeated report of the same status: see below
)
def test_final_statuses_never_change(final: OrderStatus, target: OrderStatus) -> None:
    order = _order(final)
    assert move(order, target) is False
    assert order.status is final
    assert LEGAL_MOVES[final] == frozenset()


@pytest.mark.parametrize(("current", "target"), sorted(CONTRACT_MOVES))
def test_legal_moves_are_written(current: OrderStatus, target: OrderStatus) -> None:
    order = _order(current)
    assert move(order, target, reason="risk") is True
    assert order.status is target


def test_a_fill_reported_before_the_acknowledgement_passes_through_submitted() -> None:
    assert path_to(S.PENDING, S.FILLED) == [S.SUBMITTED, S.FILLED]
    assert path_to(S.PENDING, S.CANCELLED) == [S.SUBMITTED, S.CANCELLED]
    order = _order(S.PENDING)
    assert move(order, S.FILLED)
    assert order.status is S.FILLED


def test_backwards_moves_are_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    order = _order(S.PARTIALLY_FILLED)
    assert move(order, S.SUBMITTED) is False
    assert move(order, S.PENDING) is False
    assert order.status is S.PARTIALLY_FILLED
    assert "illegal_order_transition" in caplog.text


def test_rejection_keeps_its_reason() -> None:
    order = _order(S.PENDING)
    move(order, S.REJECTED, reason="trading_halted")
    assert (order.status, order.reject_reason) == (S.REJECTED, "trading_halted")


@pytest.mark.parametrize("status", [S.PENDING, S.SUBMITTED, S.FILLED, S.CANCELLED, S.REJECTED])
def test_a_repeated_status_report_is_a_no_op(status: OrderStatus) -> None:
    order = _order(status)
    assert move(order, status) is True
    assert order.status is status
