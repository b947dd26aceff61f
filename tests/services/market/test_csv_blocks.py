"""CsvBarReader reads a file a block of lines at a time, each block checked column by column,
and line by line when any line fails: both ways accept the same bars and name the same lines.

The line-by-line way is what quoted files always take (the csv module reads them), so a file
and the same file with every cell quoted must read alike, bad lines included.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.services.market import csv_text
from backend.services.market.csv_bars import CsvBarReader
from backend.services.market.importer import _ISO_SHAPE, _iso_stamped

HEADER = ["datetime", "open", "high", "low", "close", "volume", "turnover", "open_interest"]
START = datetime(2024, 1, 2, 1, 0, tzinfo=UTC)


def read(content: bytes, *, max_errors: int = 10, max_bars: int = 10**9) -> tuple[list, list]:
    reader = CsvBarReader(
        io.BytesIO(content), max_bars=max_bars, max_errors=max_errors, whole_minutes=True
    )
    bars = [bar[:9] for bar in reader]  # the line as written differs once quoted
    return bars, [str(error) for error in reader.errors]


def quoted(lines: list[list[str]]) -> bytes:
    return "".join(",".join(f'"{cell}"' for cell in line) + "\n" for line in lines).encode()


def plain(lines: list[list[str]], end: str = "\n") -> bytes:
    return "".join(",".join(line) + end for line in lines).encode()


def good_line(minute: int, price: int = 7000) -> list[str]:
    moment = (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
    half = f"{price / 2:g}"
    return [moment, half, f"{(price + 2) / 2:g}", f"{(price - 1) / 2:g}", half, "12",
            f"{12 * price * 5:g}", "1000"]  # fmt: skip


# What may replace one cell of a good line: good variants and bad ones.
CELL_VARIANTS = {
    0: ["2024-01-02 01:00:30", "2024-01-02T09:00:00+08:00", "not a time", "2024-01-02 01:00",
        " 2024-01-02T01:00:00Z", "2023-12-31T00:00:00Z"],
    1: ["3500.000000000", "0", "-1", "1e3", "3500.123456789", "NaN", "3500_0", "3500.5"],
    3: ["1e20", "3499.5", "99999"],
    5: ["0", "-3", "1.100000000", "12.5", "1e16", "Infinity"],
    6: ["1.21485e+07", "0.000000001", "1.100000000", "-2", "5e-3", "12345678901234567", "",
        "4.2E+5", "1.5e-9"],
    7: ["0", "1_000", "10000000000000000"],
}  # fmt: skip


@st.composite
def files(draw: st.DrawFn) -> list[list[str]]:
    count = draw(st.integers(min_value=1, max_value=40))
    lines = [HEADER]
    for minute in range(count):
        line = good_line(minute, 7000 + draw(st.integers(-20, 20)))
        if draw(st.integers(0, 9)) == 0:  # a line in ten is changed
            kind = draw(st.sampled_from(["cell", "blank", "short", "long", "repeat"]))
            if kind == "cell":
                column = draw(st.sampled_from(sorted(CELL_VARIANTS)))
                line[column] = draw(st.sampled_from(CELL_VARIANTS[column]))
            elif kind == "blank":
                line = [""]
            elif kind == "short":
                line = line[:5]
            elif kind == "long":
                line = [*line, "extra"]
            elif kind == "repeat" and len(lines) > 1:
                line = list(lines[-1])
        lines.append(line)
    return lines


@settings(max_examples=150, deadline=None)
@given(files())
def test_a_file_reads_as_the_same_file_quoted_bad_lines_and_all(lines: list[list[str]]) -> None:
    assert read(plain(lines)) == read(quoted(lines))
    assert read(plain(lines, "\r\n")) == read(plain(lines))
    assert read(plain(lines), max_errors=1) == read(quoted(lines), max_errors=1)
    bars = len(read(plain(lines))[0])
    if bars > 1:
        assert read(plain(lines), max_bars=bars - 1) == read(quoted(lines), max_bars=bars - 1)


def test_good_blocks_read_column_by_column_give_the_values_and_lines_as_written() -> None:
    lines = [HEADER, *(good_line(minute) for minute in range(3))]
    lines[2][6] = "1.100000000"  # trailing zeros past the 8th place are no more places
    reader = CsvBarReader(io.BytesIO(b"\xef\xbb\xbf" + plain(lines)), max_bars=10)
    bars = list(reader)
    assert reader.errors == []
    assert [bar[0] for bar in bars] == [2, 3, 4]
    assert bars[1][1] == START + timedelta(minutes=1)
    assert bars[0][2:9] == (Decimal(3500), Decimal(3501), Decimal("3499.5"), Decimal(3500),
                            Decimal(12), Decimal(420000), Decimal(1000))  # fmt: skip
    assert bars[1][7] == Decimal("1.1")
    assert [bar[9] for bar in bars] == [",".join(line) for line in lines[1:]]


def test_blocks_of_a_large_file_keep_their_line_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Across block boundaries (a small block size here): a bad line deep in the file, a
    CRLF file and a line that is not UTF-8 are named by their line."""
    monkeypatch.setattr(csv_text, "BLOCK_BYTES", 4096)
    lines = [HEADER, *(good_line(minute) for minute in range(2000))]
    bars, errors = read(plain(lines))
    assert (len(bars), errors) == (2000, [])
    assert bars[-1][0] == 2001
    assert read(plain(lines, "\r\n")) == (bars, [])
    lines[1500][1] = "-1"
    bars, errors = read(plain(lines))
    assert errors == ["line 1501: open -1 is not positive"]
    assert len(bars) == 1999
    broken = plain(lines[:1700]) + b"2024-01-03T00:00:00Z,\xff\n" + plain(lines[1700:])
    assert read(broken)[1] == ["line 1501: open -1 is not positive",
                               "line 1701: the file is not UTF-8 text"]  # fmt: skip


def test_a_line_longer_than_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_text, "BLOCK_BYTES", 1024)
    monkeypatch.setattr(csv_text, "MAX_LINE_BYTES", 4096)
    content = plain([HEADER, good_line(0)]) + b"9" * 10_000 + b"\n"
    bars, errors = read(content)
    assert len(bars) == 1
    assert errors == ["line 3: the line is longer than 4,096 bytes"]


@pytest.mark.parametrize(
    "stamp",
    ["2024-01-02T09:30", "2024-01-02 09:30Z", "2024-01-02T09:30+0800", "2024-01-02T09:30-08:00",
     "2024-01-02T09:30:00", "2024-01-02 09:30:00Z", "2024-01-02T09:30:00+0800",
     "2024-01-02T09:30:00+08:00", "2024-01-02T09:30:00.5Z", "2024-01-02T09:30:00.123456+08:00",
     "20240102T093000", "2024-01-02T09:30:00+08", "2024-01-02X09:30:00Z", "2024-01-02T09:30:0a",
     "2024-01-02T09:30:00*08:00", "2024-01-02T09-30-00", "2024-W01-2T09:30:00", "2024-01-02"],
)  # fmt: skip
def test_datetimes_passed_to_copy_as_written_have_the_shape_postgresql_reads(stamp: str) -> None:
    """Checked a character position at a time across lines of one width, as line by line."""
    expected = _ISO_SHAPE(stamp) is not None
    assert _iso_stamped([f"{stamp},1,2"] * 3) is expected
    # After a line of another width: the first line's shape fails the second, line by line.
    good = "2024-01-02T09:29:00Z" if len(stamp) != 20 else "2024-01-02T09:29"
    assert _iso_stamped([f"{good},1,2", f"{stamp},1,2"]) is expected
