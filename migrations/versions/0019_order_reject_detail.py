"""orders keep the detail of a risk rejection: the rule, its limit and the order's value.

`reject_detail` is `{"rule": ..., "limit": ..., "value": ...}` (decimals as strings) for an
order risk rejected, null otherwise; answered with the order (POST, GET, the live stream).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: the triggers on `orders` stay as they are.
    op.add_column("orders", sa.Column("reject_detail", sa.JSON(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch copy of `orders` would lose its triggers.
    op.drop_column("orders", "reject_detail")
