"""Order controls: client order ids chosen by the client, time in force.

- `orders.client_ref`: the client's own id for an order, unique per user.
- `orders.time_in_force`: GTC (existing orders), IOC or FOK.
- `orders.replaces_order_id`: the order an amendment (cancel-replace) replaced, once each.
- `orders.limit_price`: a stop's limit price, which makes it a stop-limit.

The API's `client_order_id` is the client's id when it chose one, else RedFire's own
reference (orders.client_order_id, unique across users, which the gateways carry back).
Columns are added, not the table rebuilt: SQLite's triggers on orders (0006) stay.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.core.database.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column("client_ref", sa.String(length=64), nullable=False, server_default=""),
    )
    op.execute("UPDATE orders SET client_ref = client_order_id")
    op.create_index(
        "uq_orders_user_id_client_ref", "orders", ["user_id", "client_ref"], unique=True
    )
    op.add_column(
        "orders",
        sa.Column(
            "time_in_force",
            sa.Enum(
                "GTC",
                "IOC",
                "FOK",
                name="time_in_force",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
            server_default="GTC",
        ),
    )
    op.add_column(
        "orders",
        sa.Column(
            "limit_price",
            backend.core.database.types.Money(precision=24, scale=8),
            nullable=True,
        ),
    )
    op.add_column(
        "orders",
        sa.Column(
            "replaces_order_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
    )
    op.create_index("uq_orders_replaces_order_id", "orders", ["replaces_order_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_orders_replaces_order_id", table_name="orders")
    op.drop_column("orders", "replaces_order_id")
    op.drop_column("orders", "limit_price")
    op.drop_column("orders", "time_in_force")
    op.drop_index("uq_orders_user_id_client_ref", table_name="orders")
    op.drop_column("orders", "client_ref")
