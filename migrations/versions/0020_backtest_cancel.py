"""backtests may be cancelled: the status check admits 'cancelled'.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ck_backtests_backtest_status"
_BEFORE = "status IN ('queued', 'running', 'finished', 'failed')"
_AFTER = "status IN ('queued', 'running', 'finished', 'failed', 'cancelled')"


def _replace_check(condition: str) -> None:
    # SQLite cannot alter a CHECK: batch mode copies the table with the new one.
    with op.batch_alter_table("backtests", recreate="auto") as batch_op:
        batch_op.drop_constraint(op.f(_NAME), type_="check")
        batch_op.create_check_constraint(op.f(_NAME), condition)


def upgrade() -> None:
    _replace_check(_AFTER)


def downgrade() -> None:
    # A cancelled backtest reads as failed on the older schema.
    op.execute(
        "UPDATE backtests SET status = 'failed', error = 'cancelled by its owner'"
        " WHERE status = 'cancelled'"
    )
    _replace_check(_BEFORE)
