"""optimizations: parameter sweeps of a strategy class, their stored inputs and best runs.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.core.database.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = ("queued", "running", "finished", "failed", "cancelled")


def _moment(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(
        name,
        backend.core.database.types.UTCDateTime(timezone=True),
        server_default=None if nullable else sa.text("(CURRENT_TIMESTAMP)"),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "optimizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*_STATUSES, name="optimization_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("class_name", sa.String(length=100), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("bar_count", sa.Integer(), nullable=False),
        sa.Column("bars_csv", sa.LargeBinary(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("evaluated", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("runs", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("replica", sa.String(length=64), nullable=False),
        _moment("started_at", nullable=True),
        _moment("finished_at", nullable=True),
        _moment("created_at", nullable=False),
        _moment("updated_at", nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'finished', 'failed', 'cancelled')",
            name=op.f("ck_optimizations_optimization_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_optimizations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_optimizations")),
    )
    with op.batch_alter_table("optimizations") as batch_op:
        batch_op.create_index(batch_op.f("ix_optimizations_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_optimizations_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("optimizations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_optimizations_user_id"))
        batch_op.drop_index(batch_op.f("ix_optimizations_status"))
    op.drop_table("optimizations")
