"""strategies keep their last counters and position; backtests keep their equity chart.

`strategies.ticks_processed`, `orders_placed`, `position` and `last_update` are written by the
replica running a strategy (every reconcile pass and at stop), so its status survives a stop,
a restart and a read on another replica. `backtests.equity_png` is the chart drawn when the
backtest finished (or at its first request, for backtests that finished before this).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.core.database.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("strategies") as batch_op:
        batch_op.add_column(
            sa.Column("ticks_processed", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("orders_placed", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "position", backend.core.database.types.Money(precision=24, scale=8), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "last_update", backend.core.database.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("backtests") as batch_op:
        batch_op.add_column(sa.Column("equity_png", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backtests") as batch_op:
        batch_op.drop_column("equity_png")
    with op.batch_alter_table("strategies") as batch_op:
        batch_op.drop_column("last_update")
        batch_op.drop_column("position")
        batch_op.drop_column("orders_placed")
        batch_op.drop_column("ticks_processed")
