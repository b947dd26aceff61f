"""`redfire import-bars`: a CSV file, and vnpy_sqlite / vnpy_postgresql `dbbardata` tables."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from backend.cli import main
from backend.models.enums import UserRole
from tests.api.conftest import Account, MakeAccount
from tests.api.market_history import bars, minutes_csv
from tests.conftest import TEST_DATABASE_URL, create_database, drop_database

pytestmark = pytest.mark.usefixtures("cli_env")

# vnpy_sqlite's DbBarData as peewee creates it (vnpy_postgresql's: REAL floats, TIMESTAMP).
SQLITE_DDL = [
    'CREATE TABLE "dbbardata" ("id" INTEGER NOT NULL PRIMARY KEY, "symbol" VARCHAR(255) NOT NULL,'
    ' "exchange" VARCHAR(255) NOT NULL, "datetime" DATETIME NOT NULL,'
    ' "interval" VARCHAR(255) NOT NULL, "volume" REAL NOT NULL, "turnover" REAL NOT NULL,'
    ' "open_interest" REAL NOT NULL, "open_price" REAL NOT NULL, "high_price" REAL NOT NULL,'
    ' "low_price" REAL NOT NULL, "close_price" REAL NOT NULL)',
    'CREATE UNIQUE INDEX "dbbardata_symbol_exchange_interval_datetime"'
    ' ON "dbbardata" ("symbol", "exchange", "interval", "datetime")',
]
POSTGRESQL_DDL = [
    'CREATE TABLE "dbbardata" ("id" SERIAL NOT NULL PRIMARY KEY, "symbol" VARCHAR(255) NOT NULL,'
    ' "exchange" VARCHAR(255) NOT NULL, "datetime" TIMESTAMP NOT NULL,'
    ' "interval" VARCHAR(255) NOT NULL, "volume" REAL NOT NULL, "turnover" REAL NOT NULL,'
    ' "open_interest" REAL NOT NULL, "open_price" REAL NOT NULL, "high_price" REAL NOT NULL,'
    ' "low_price" REAL NOT NULL, "close_price" REAL NOT NULL)',
    SQLITE_DDL[1],
]
# (symbol, exchange, datetime in Asia/Shanghai, interval, volume, turnover, oi, o, h, l, c)
ROWS = [
    (
        "rb2501",
        "SHFE",
        "2024-01-02 09:00:00",
        "1m",
        12.0,
        396024.0,
        1500.0,
        3300.0,
        3301.0,
        3299.0,
        3300.5,
    ),
    (
        "rb2501",
        "SHFE",
        "2024-01-02 09:01:00",
        "1m",
        3.0,
        99030.0,
        1502.0,
        3300.5,
        3302.0,
        3300.0,
        3301.0,
    ),
    (
        "IF2412",
        "CFFEX",
        "2024-01-02 09:30:00",
        "1m",
        5.0,
        5250300.0,
        80.0,
        3500.2,
        3500.4,
        3500.0,
        3500.2,
    ),
    (
        "rb2501",
        "SHFE",
        "2024-01-02 00:00:00",
        "d",
        900.0,
        29700000.0,
        1510.0,
        3290.0,
        3310.0,
        3280.0,
        3305.0,
    ),
    (
        "rb2501",
        "SHFE",
        "2024-01-01 00:00:00",
        "w",
        4000.0,
        1.0,
        1.0,
        3200.0,
        3300.0,
        3100.0,
        3290.0,
    ),
]
INSERT = (
    'INSERT INTO "dbbardata" (symbol, exchange, datetime, interval, volume, turnover,'
    " open_interest, open_price, high_price, low_price, close_price) VALUES ({})"
)


def vnpy_sqlite(path: Path, rows: list[tuple[object, ...]]) -> str:
    with sqlite3.connect(path) as connection:
        for statement in SQLITE_DDL:
            connection.execute(statement)
        connection.executemany(INSERT.format(", ".join("?" * 11)), rows)
    return f"sqlite:///{path}"


@pytest.fixture
def vnpy_postgresql() -> Iterator[str]:
    if TEST_DATABASE_URL is None:
        pytest.skip("vnpy_postgresql needs PostgreSQL (TEST_DATABASE_URL)")
    name = f"vnpy_{uuid.uuid4().hex[:10]}"
    url = create_database(name).replace("postgresql+asyncpg://", "postgresql://")

    async def fill() -> None:
        connection = await asyncpg.connect(url)
        try:
            for statement in POSTGRESQL_DDL:
                await connection.execute(statement)
            rows = [(*row[:2], datetime.fromisoformat(str(row[2])), *row[3:]) for row in ROWS]
            marks = ", ".join(f"${n}" for n in range(1, 12))
            await connection.executemany(INSERT.format(marks), rows)
        finally:
            await connection.close()

    asyncio.run(fill())
    try:
        yield url
    finally:
        drop_database(name)


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, ["import-bars", *argv])


async def test_a_csv_file(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    viewer = await make_account(UserRole.VIEWER)
    path = tmp_path / "bars.csv"
    path.write_bytes(minutes_csv(datetime(2023, 3, 1, tzinfo=UTC), 500))
    assert await run(str(path), "--symbol", "rb2501.SHFE") == 0
    assert "imported 500 1m bars of rb2501.SHFE from 2023-03-01T00:00:00+00:00" in (
        capsys.readouterr().out
    )
    found = await bars(client, viewer, symbol="rb2501.SHFE", start="2023-03-01T00:00:00Z")
    assert len(found) == 500
    lines = path.read_text().splitlines()
    lines[300] = lines[300].replace(",", ",abc", 1)
    path.write_text("\n".join(lines))
    assert await run(str(path), "--symbol", "IF2412.CFFEX") == 1
    assert "line 301: open 'abc3009.5' is not a number" in capsys.readouterr().err
    assert await bars(client, viewer, symbol="IF2412.CFFEX", start="2023-03-01T00:00:00Z") == []


async def test_refusals_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run(str(tmp_path / "missing.csv"), "--symbol", "rb2501.SHFE") == 2
    assert "no such file" in capsys.readouterr().err
    assert await run("--from-vnpy", "x.db", "--timezone", "Mars/Olympus") == 2
    assert "unknown time zone" in capsys.readouterr().err
    assert await run("--from-vnpy", "x.db", "--symbol", "rb2501") == 2


async def check_imported(client: httpx.AsyncClient, viewer: Account) -> None:
    # 09:00 in Shanghai is 01:00 UTC; the prices are the decimals vnpy meant.
    [first, second] = await bars(
        client,
        viewer,
        symbol="rb2501.SHFE",
        start="2024-01-02T00:00:00Z",
        end="2024-01-02T02:00:00Z",
    )
    assert first == {
        "datetime": "2024-01-02T01:00:00Z",
        "open": "3300",
        "high": "3301",
        "low": "3299",
        "close": "3300.5",
        "volume": "12",
        "turnover": "396024",
        "open_interest": "1500",
    }
    assert second["datetime"] == "2024-01-02T01:01:00Z"
    [daily] = await bars(
        client,
        viewer,
        symbol="rb2501.SHFE",
        interval="1d",
        start="2024-01-01T00:00:00Z",
        end="2024-01-03T00:00:00Z",
    )
    assert (daily["datetime"], daily["volume"]) == ("2024-01-02T00:00:00Z", "900")


async def test_a_vnpy_sqlite_database(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    viewer = await make_account(UserRole.VIEWER)
    url = vnpy_sqlite(tmp_path / "database.db", ROWS)
    code = await run("--from-vnpy", url, "--symbol", "rb2501.SHFE", "--timezone", "Asia/Shanghai")
    assert code == 0
    out = capsys.readouterr().out
    assert "imported 2 1m bars of rb2501.SHFE" in out
    assert "imported 1 1d bars of rb2501.SHFE" in out
    assert "skipped 1 bars of other intervals (weekly)" in out
    await check_imported(client, viewer)
    assert await bars(client, viewer, symbol="IF2412.CFFEX", start="2024-01-01T00:00:00Z") == []


async def test_a_bad_vnpy_row_imports_nothing(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    viewer = await make_account(UserRole.VIEWER)
    broken = [*ROWS[:2], (*ROWS[2][:8], 3499.0, 3500.0, 3500.2)]  # high below low
    url = vnpy_sqlite(tmp_path / "database.db", broken)
    assert await run("--from-vnpy", url, "--timezone", "Asia/Shanghai") == 1
    assert "dbbardata id 3: high 3499 is below low 3500" in capsys.readouterr().err
    assert await bars(client, viewer, symbol="rb2501.SHFE", start="2024-01-01T00:00:00Z") == []


async def test_a_vnpy_postgresql_database(
    client: httpx.AsyncClient,
    make_account: MakeAccount,
    vnpy_postgresql: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    viewer = await make_account(UserRole.VIEWER)
    assert await run("--from-vnpy", vnpy_postgresql, "--timezone", "Asia/Shanghai") == 0
    assert "imported 1 1m bars of IF2412.CFFEX" in capsys.readouterr().out
    await check_imported(client, viewer)
    # REAL (4-byte) 3500.2 reads back as 3500.199951171875; its shortest text is what vnpy meant.
    [bar] = await bars(client, viewer, symbol="IF2412.CFFEX", start="2024-01-02T00:00:00Z")
    assert (bar["open"], bar["high"], bar["turnover"]) == ("3500.2", "3500.4", "5250300")
