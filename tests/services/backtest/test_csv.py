"""CSV bars: parsed exactly, and every problem named with its line."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from backend.services.backtest.bars import InvalidBarDataError, parse_csv_bars
from backend.services.market.csv_bars import CsvBarReader

HEADER = "datetime,open,high,low,close,volume\n"
GOOD = (
    "2024-01-02 09:00:00,3500,3501.5,3499,3500.5,12\n2024-01-02T09:01:00,3500.5,3502,3500,3501,3\n"
)


TURNOVER = "datetime,open,high,low,close,volume,turnover\n"


def parse(text: str, max_bars: int = 100):  # type: ignore[no-untyped-def]
    return parse_csv_bars(text.encode(), symbol="rb2501.SHFE", max_bars=max_bars)


def test_parses_prices_exactly_and_naive_times_as_utc() -> None:
    bars = parse("\ufeff" + HEADER + GOOD)
    assert bars.bar_count == 2
    assert bars.describe_bar(1) == "line 3, bar 2 (2024-01-02T09:01:00+00:00)"
    assert bars.close == [Decimal("3500.5"), Decimal(3501)]
    assert bars.datetimes[0] == datetime(2024, 1, 2, 9, tzinfo=UTC)


def test_columns_in_any_order_and_offsets_kept_for_the_trading_day() -> None:
    text = "Volume,Close,Low,High,Open,DateTime\n1,10,9,11,10,2024-01-02T23:30:00-05:00\n"
    bars = parse(text)
    assert bars.open == [Decimal(10)]
    assert bars.datetimes[0].utcoffset() == timezone(timedelta(hours=-5)).utcoffset(None)
    assert bars.days.tolist() == [datetime(2024, 1, 2).toordinal()]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("datetime,open,high,low,close\n", "line 1: missing column(s) volume"),
        (HEADER, "line 2: no bars after the header"),
        (HEADER + GOOD + "yesterday,1,1,1,1,1\n", "line 4: datetime 'yesterday' is not ISO 8601"),
        (HEADER + GOOD + "2024-01-02 09:02,1,x,1,1,1\n", "line 4: high 'x' is not a number"),
        (HEADER + "2024-01-02 09:02,nan,1,1,1,1\n", "line 2: open 'nan' is not finite"),
        (HEADER + "2024-01-02 09:02,-1,1,-2,1,1\n", "line 2: open -1 is not positive"),
        (HEADER + "2024-01-02 09:02,1,1,1,1,-5\n", "line 2: volume -5 is negative"),
        (HEADER + "2024-01-02 09:02,2,1,3,2,1\n", "line 2: high 1 is below low 3"),
        (HEADER + "2024-01-02 09:02,5,3,1,2,1\n", "line 2: open and close must lie within"),
        (HEADER + GOOD + "2024-01-02 09:00:30,1,1,1,1,1\n", "line 4: datetime 2024-01-02 09:00:30"),
        (HEADER + "2024-01-02 09:02,1,1,1\n", "line 2: expected 6 fields"),
        (HEADER + GOOD + "\n" + GOOD, "line 5: datetime 2024-01-02 09:00:00 is not after"),
        # An order's bounds: 16 digits before the point, 8 after (1e1000 was accepted).
        (HEADER + "2024-01-02 09:02,1,1e1000,1,1,1\n",
         "line 2: high '1e1000' has more than 16 digits before the point"),
        (HEADER + "2024-01-02 09:02,1,1,1,1,10000000000000000\n",
         "line 2: volume '10000000000000000' has more than 16 digits before the point"),
        (HEADER + "2024-01-02 09:02,1,1,1,1.000000001,1\n",
         "line 2: close '1.000000001' has more than 8 decimal places"),
        (TURNOVER + "2024-01-02 09:02,1,1,1,1,1,12.123456789\n",
         "line 2: turnover '12.123456789' has more than 8 decimal places"),
        (TURNOVER + "2024-01-02 09:02,1,1,1,1,1,12345678901234567\n",
         "line 2: turnover '12345678901234567' has more than 16 digits before the point"),
        (TURNOVER + "2024-01-02 09:02,1,1,1,1,1,-0.5\n", "line 2: turnover -0.5 is negative"),
    ],
)  # fmt: skip
def test_bad_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidBarDataError) as caught:
        parse(text)
    assert str(caught.value.detail).startswith(message), caught.value.detail


def test_more_bars_than_allowed() -> None:
    with pytest.raises(InvalidBarDataError, match="line 3: more than 1 bars"):
        parse(HEADER + GOOD, max_bars=1)


def test_not_utf8() -> None:
    with pytest.raises(InvalidBarDataError, match="not UTF-8"):
        parse_csv_bars(b"\xff\xfe\x00", symbol="rb2501.SHFE", max_bars=10)


@pytest.mark.parametrize(
    ("written", "value"),
    [("12.5", "12.5"), ("7.", "7"), ("0", "0"), (".25", "0.25"), ("4.2e+05", "420000"),
     (" 3 ", "3"), ("1_000", "1000"), ("1234567890123456.12345678", "1234567890123456.12345678")],
)  # fmt: skip
def test_turnover_as_written_or_in_any_other_decimal_shape(written: str, value: str) -> None:
    text = TURNOVER + f"2024-01-02 09:02,1,1,1,1,1,{written}\n"
    reader = CsvBarReader(io.BytesIO(text.encode()), max_bars=10)
    assert [bar[7] for bar in reader] == [Decimal(value)]
    assert reader.errors == []
