"""strategies keep a vnpy CTA strategy's variables (`pos` and its declared `variables`).

Written by the replica running the strategy whenever the strategy syncs its data (after every
trade, at stop, and when it calls `sync_data`), read when it starts again, here or on another
replica after a failover.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("strategies") as batch_op:
        batch_op.add_column(sa.Column("variables", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("strategies") as batch_op:
        batch_op.drop_column("variables")
