"""vnpy Status -> RedFire OrderStatus."""

from __future__ import annotations

import pytest
from vnpy.trader.constant import Status

from backend.models.enums import OrderStatus
from backend.services.vnpy.status_map import VNPY_STATUS_TO_ORDER_STATUS, to_order_status


def test_every_vnpy_status_is_mapped() -> None:
    assert set(VNPY_STATUS_TO_ORDER_STATUS) == set(Status)


@pytest.mark.parametrize(
    ("vnpy_status", "expected"),
    [
        (Status.SUBMITTING, OrderStatus.SUBMITTED),
        (Status.NOTTRADED, OrderStatus.SUBMITTED),
        (Status.PARTTRADED, OrderStatus.PARTIALLY_FILLED),
        (Status.ALLTRADED, OrderStatus.FILLED),
        (Status.CANCELLED, OrderStatus.CANCELLED),
        (Status.REJECTED, OrderStatus.REJECTED),
    ],
)
def test_mapping(vnpy_status: Status, expected: OrderStatus) -> None:
    assert to_order_status(vnpy_status) is expected


def test_final_vnpy_statuses_map_to_final_statuses() -> None:
    for vnpy_status, status in VNPY_STATUS_TO_ORDER_STATUS.items():
        assert status.is_final == (
            vnpy_status in {Status.ALLTRADED, Status.CANCELLED, Status.REJECTED}
        )
