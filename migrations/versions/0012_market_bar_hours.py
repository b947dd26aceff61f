"""market_bar_hours: hourly rollups of the one-minute bars (PostgreSQL reads 1h/1d from them).

One row per symbol and UTC hour that holds at least one stored 1m bar: open of its first
minute, close and open interest of its last, highest high, lowest low, summed volume and
turnover (unbounded NUMERIC: sums of NUMERIC(24, 8) may need more digits). Kept in step with
market_bars by every write (services/market/rollups.py); filled here from what is stored.
SQLite creates the table and leaves it empty (it aggregates minutes in Python).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.core.database.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VALUES = ("open", "high", "low", "close", "volume", "turnover", "open_interest")
_ORIGIN = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"


def _at(column: str, moment: str) -> str:
    return (
        f"(SELECT {column} FROM market_bars AS m WHERE m.symbol = hours.symbol"  # noqa: S608
        f" AND m.interval = '1m' AND m.datetime = hours.{moment})"
    )


# The same aggregation as services/market/rollups.py, over everything stored.
_BACKFILL = f"""
INSERT INTO market_bar_hours (symbol, datetime, {", ".join(_VALUES)})
SELECT hours.symbol, hours.hour, {_at("open", "first")}, hours.high, hours.low,
       {_at("close", "last")}, hours.volume, hours.turnover, {_at("open_interest", "last")}
FROM (
    SELECT symbol, date_bin('1 hour', datetime, {_ORIGIN}) AS hour, min(datetime) AS first,
           max(datetime) AS last, max(high) AS high, min(low) AS low,
           sum(volume) AS volume, sum(turnover) AS turnover
    FROM market_bars WHERE interval = '1m' GROUP BY symbol, hour
) AS hours
"""  # noqa: S608  (constants only)


def upgrade() -> None:
    op.create_table(
        "market_bar_hours",
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column(
            "datetime", backend.core.database.types.UTCDateTime(timezone=True), nullable=False
        ),
        *(sa.Column(name, sa.Numeric(), nullable=False) for name in _VALUES),
        sa.PrimaryKeyConstraint("symbol", "datetime", name=op.f("pk_market_bar_hours")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_BACKFILL)


def downgrade() -> None:
    op.drop_table("market_bar_hours")
