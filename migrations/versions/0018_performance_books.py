"""performance books: positions keep their cost basis, accounts a row per day.

- `positions.cost`: the signed cost basis of the open quantity (quantity x entry price,
  summed), NUMERIC(48, 20) on PostgreSQL and text on SQLite, so marks and realized PnL are
  computed from it instead of the average price rounded to 8 places. Existing positions start
  from quantity x avg_price (what they were marked with until now).
- `account_days`: per user and UTC day, the realized PnL, commission and number of fills
  booked, and the balance after the last of them; written with each fill, read by
  GET /api/v1/account/history.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

import backend.core.database.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money() -> backend.core.database.types.Money:
    return backend.core.database.types.Money(precision=24, scale=8)


def upgrade() -> None:
    with op.batch_alter_table("positions") as batch_op:
        batch_op.add_column(
            sa.Column(
                "cost",
                backend.core.database.types.CostBasis(precision=48, scale=20),
                nullable=False,
                server_default="0",
            )
        )
    if op.get_bind().dialect.name == "sqlite":
        # Decimals are text there: multiply in Python, exactly.
        positions = op.get_bind().execute(sa.text("SELECT id, quantity, avg_price FROM positions"))
        for position_id, quantity, avg_price in positions.all():
            cost = Decimal(str(quantity)) * Decimal(str(avg_price))
            op.execute(
                sa.text("UPDATE positions SET cost = :cost WHERE id = :id").bindparams(
                    cost=str(cost), id=position_id
                )
            )
    else:
        op.execute("UPDATE positions SET cost = quantity * avg_price")
    op.create_table(
        "account_days",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("realized_pnl", _money(), nullable=False),
        sa.Column("commission", _money(), nullable=False),
        sa.Column("trade_count", sa.BigInteger(), nullable=False),
        sa.Column("balance", _money(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_days_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_account_days")),
    )


def downgrade() -> None:
    op.drop_table("account_days")
    with op.batch_alter_table("positions") as batch_op:
        batch_op.drop_column("cost")
