"""Decimals in answers: plain notation at the value's own scale."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel

from backend.schemas.common import DecimalText, jsonable, plain_decimal


class Shown(BaseModel):
    amount: DecimalText
    optional: DecimalText | None = None


def test_plain_decimal_never_uses_an_exponent() -> None:
    assert str(Decimal("0E-8")) == "0E-8"  # what str() writes, and why this exists
    assert plain_decimal(Decimal("0E-8")) == "0.00000000"
    assert plain_decimal(Decimal("1E-8")) == "0.00000001"
    assert plain_decimal(Decimal("1E+3")) == "1000"
    assert plain_decimal(Decimal("-3500.20000000")) == "-3500.20000000"


def test_models_write_plain_decimals_in_json_and_keep_decimals_in_python() -> None:
    shown = Shown(amount=Decimal("0E-8"), optional=Decimal("2E-7"))
    assert shown.model_dump_json() == '{"amount":"0.00000000","optional":"0.0000002"}'
    assert shown.model_dump(mode="json") == {"amount": "0.00000000", "optional": "0.0000002"}
    assert shown.model_dump() == {"amount": Decimal("0E-8"), "optional": Decimal("2E-7")}
    assert Shown(amount=Decimal(1)).model_dump(mode="json")["optional"] is None


def test_the_answer_schema_says_string() -> None:
    schema = Shown.model_json_schema(mode="serialization")
    assert schema["properties"]["amount"]["type"] == "string"


def test_jsonable_writes_nested_decimals_plainly() -> None:
    moment = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    data = {"position": Decimal("0E-8"), "history": [(Decimal("1E-8"), moment)], "n": 3}
    assert jsonable(data) == {
        "position": "0.00000000",
        "history": [["0.00000001", "2026-11-30T09:00:00Z"]],
        "n": 3,
    }
