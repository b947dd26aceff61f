"""format_currency, to_money_scale, validate_email and validate_phone."""

from __future__ import annotations

from decimal import Context, Decimal

import pytest

from backend.shared.utils import format_currency, validate_email, validate_phone
from backend.shared.utils.currency import to_money_scale


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (1234.5, "USD", "$1,234.50"),
        (Decimal("1234.5"), "CNY", "¥1,234.50"),
        (Decimal("1234.5"), "EUR", "1,234.50 EUR"),
        (Decimal("1234.5"), "eur", "1,234.50 EUR"),
        (Decimal("-1234.5"), "USD", "-$1,234.50"),
        (Decimal("-1234.5"), "CNY", "-¥1,234.50"),
        (Decimal("-1234.5"), "GBP", "-1,234.50 GBP"),
        (Decimal("0.005"), "USD", "$0.01"),
        (Decimal("0.125"), "USD", "$0.13"),
        (0.125, "USD", "$0.13"),
        (2.675, "USD", "$2.68"),
        (Decimal("-0.004"), "USD", "$0.00"),
        (Decimal("1234567890.999"), "USD", "$1,234,567,891.00"),
        (0, "USD", "$0.00"),
    ],
)
def test_format_currency(amount: Decimal | float, currency: str, expected: str) -> None:
    assert format_currency(amount, currency) == expected


def test_format_currency_refuses_non_finite() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        format_currency(Decimal("NaN"))
    with pytest.raises(ValueError, match="non-finite"):
        format_currency(float("inf"))


@pytest.mark.parametrize("email", ["trader@example.com", "a.b+tag@sub.example.org"])
def test_validate_email_accepts(email: str) -> None:
    assert validate_email(email) == (True, None)


@pytest.mark.parametrize("email", ["no-at-sign", "two@@example.com", "a@", "@example.com"])
def test_validate_email_rejects_with_reason(email: str) -> None:
    ok, error = validate_email(email)
    assert ok is False
    assert error


@pytest.mark.parametrize(
    "phone",
    ["13800138000", "+8613800138000", "8613800138000", "+86 138 0013 8000", "138-0013-8000"],
)
def test_validate_phone_accepts_mainland_mobiles(phone: str) -> None:
    assert validate_phone(phone) is True


@pytest.mark.parametrize(
    "phone", ["12800138000", "1380013800", "138001380000", "+1 13800138000", "abcdefghijk", ""]
)
def test_validate_phone_rejects(phone: str) -> None:
    assert validate_phone(phone) is False


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal(0), "0E-8"),
        (Decimal("-180.0000000000000000"), "-180.00000000"),
        (Decimal("0.000000005"), "1E-8"),  # half up, like the stored columns
        (Decimal("-0.000000005"), "-1E-8"),
        # A product of two 16-digit amounts: beyond the default 28-digit context.
        (Decimal("9999999999999999.99999999") ** 2, None),
    ],
)
def test_to_money_scale(amount: Decimal, expected: str | None) -> None:
    scaled = to_money_scale(amount)
    assert scaled.as_tuple().exponent == -8
    if expected is not None:
        assert str(scaled) == expected
    else:
        assert scaled == amount.quantize(Decimal("1E-8"), context=Context(prec=80))
