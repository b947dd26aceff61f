"""orders: orders, trades, positions, paper accounts, idempotency keys, risk settings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 02:46:06.373351
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.core.database.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "max_order_quantity",
            backend.core.database.types.Money(precision=24, scale=8),
            nullable=False,
        ),
        sa.Column(
            "max_order_notional",
            backend.core.database.types.Money(precision=24, scale=8),
            nullable=False,
        ),
        sa.Column("max_open_orders", sa.Integer(), nullable=False),
        sa.Column("max_orders_per_second", sa.Integer(), nullable=False),
        sa.Column(
            "price_band_pct",
            backend.core.database.types.Money(precision=24, scale=8),
            nullable=False,
        ),
        sa.Column("trading_halted", sa.Boolean(), nullable=False),
        sa.Column("halted_reason", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            backend.core.database.types.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            backend.core.database.types.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_settings")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column(
            "initial_balance",
            backend.core.database.types.Money(precision=24, scale=8),
            nullable=False,
        ),
        sa.Column(
            "realized_pnl", backend.core.database.types.Money(precision=24, scale=8), nullable=False
        ),
        sa.Column(
            "commission", backend.core.database.types.Money(precision=24, scale=8), nullable=False
        ),
        sa.Column(
            "created_at",
            backend.core.database.types.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            backend.core.database.types.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_accounts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("user_id", name=op.f("uq_accounts_user_id")),
    )
    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column(
            "quantity", backend.core.database.types.Money(precision=24, scale=8), nullable=False
        ),
        sa.Column(
            "avg_price", backend.core.database.types.Money(precision=24, scale=8), nullable=False
        ),
        sa.Column(
            "realized_pnl", backend.core.database.types.Money(precision=24, scale=8), nullable=False
        ),
        sa.Column(
            "created_at",
            backend.core.database.types.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            backend.core.database.types.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_positions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint("user_id", "symbol", name=op.f("uq_positions_user_id")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column(
            "side",
            sa.Enum(
                "BUY",
                "SELL",
                name="order_side",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "order_type",
            sa.Enum(
                "market",
                "limit",
                "stop",
                name="order_type",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "quantity", backend.core.database.types.Money(precision=24, scale=8), nullable=False
        ),
        sa.Column("price", backend.core.database.types.Money(precision=24, scale=8), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "submitted",
                "partially_filled",
                "filled",
                "cancelled",
                "rejected",
                name="order_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "filled_quantity",
            backend.core.database.types.Money(precision=24, scale=8),
            nullable=False,
        ),
        sa.Column(
            "avg_fill_price",
            backend.core.database.types.Money(precision=24, scale=8),
            nullable=True,
        ),
        sa.Column("reject_reason", sa.String(length=255), nullable=True),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("vt_orderid", sa.String(length=128), nullable=True),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("replica", sa.String(length=64), nullable=False),
        sa.Column("strategy_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            backend.core.database.types.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            backend.core.database.types.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["strategy_id"],
            ["strategies.id"],
            name=op.f("fk_orders_strategy_id_strategies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_orders_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
        sa.UniqueConstraint("vt_orderid", name=op.f("uq_orders_vt_orderid")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_strategy_id"), ["strategy_id"], unique=False)
        batch_op.create_index("ix_orders_user_id_id", ["user_id", "id"], unique=False)
        batch_op.create_index("ix_orders_user_id_status", ["user_id", "status"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column(
            "created_at", backend.core.database.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", backend.core.database.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_idempotency_keys_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("user_id", "key", name=op.f("uq_idempotency_keys_user_id")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_order_id"), ["order_id"], unique=False
        )

    op.create_table(
        "trades",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column(
            "side",
            sa.Enum(
                "BUY",
                "SELL",
                name="order_side",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "price", backend.core.database.types.Money(precision=24, scale=8), nullable=False
        ),
        sa.Column(
            "quantity", backend.core.database.types.Money(precision=24, scale=8), nullable=False
        ),
        sa.Column(
            "commission", backend.core.database.types.Money(precision=24, scale=8), nullable=False
        ),
        sa.Column("vt_tradeid", sa.String(length=128), nullable=False),
        sa.Column(
            "trade_time", backend.core.database.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", backend.core.database.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_trades_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_trades_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
        sa.UniqueConstraint("vt_tradeid", name=op.f("uq_trades_vt_tradeid")),
    )
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trades_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_trades_user_id_id", ["user_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_index("ix_trades_user_id_id")
        batch_op.drop_index(batch_op.f("ix_trades_order_id"))

    op.drop_table("trades")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_order_id"))
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_expires_at"))

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_user_id_status")
        batch_op.drop_index("ix_orders_user_id_id")
        batch_op.drop_index(batch_op.f("ix_orders_strategy_id"))

    op.drop_table("orders")
    op.drop_table("positions")

    op.drop_table("accounts")
    op.drop_table("risk_settings")
