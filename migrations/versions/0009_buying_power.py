"""buying power: what open orders hold, and a booking counter on the per-user lock row.

- `orders.hold_price`: the price an order's remaining quantity holds buying power at, fixed
  when it is booked (limit price, last price of a market order, worse of stop and last).
- `open_order_exposure`: per user, contract and side, the open orders' remaining quantity and
  remaining quantity x hold price, kept by triggers on `orders` on PostgreSQL (once per
  statement, over its transition tables, like the open-order counts of 0006), so booking
  reads a row per contract and side however many orders are open. SQLite stores decimals as
  text and has no exact arithmetic for a trigger: there booking sums the open orders.
- `open_order_counts.bookings`: raised by each booking that locks the row, so a booking that
  reads its user's books in the statement that takes the lock can tell whether another
  booking committed in between (then it reads them again).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.core.database.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRESQL_FUNCTION = """
CREATE FUNCTION redfire_expose_open_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Transition tables exist only for the events that have them: one statement per event.
    -- Each open order counts its remaining quantity, and that x its hold price (an order
    -- from before this migration without one: its price, else nothing). Rows are taken in
    -- (user, symbol, side) order, by every writer.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO open_order_exposure AS held (user_id, symbol, side, quantity, notional)
        SELECT user_id, symbol, side, sum(quantity - filled_quantity),
            sum((quantity - filled_quantity) * coalesce(hold_price, price, 0))
        FROM new_rows WHERE status IN ('pending', 'submitted', 'partially_filled')
        GROUP BY user_id, symbol, side ORDER BY user_id, symbol, side
        ON CONFLICT (user_id, symbol, side) DO UPDATE SET
            quantity = held.quantity + EXCLUDED.quantity,
            notional = held.notional + EXCLUDED.notional;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO open_order_exposure AS held (user_id, symbol, side, quantity, notional)
        SELECT user_id, symbol, side, -sum(quantity - filled_quantity),
            -sum((quantity - filled_quantity) * coalesce(hold_price, price, 0))
        FROM old_rows WHERE status IN ('pending', 'submitted', 'partially_filled')
        GROUP BY user_id, symbol, side ORDER BY user_id, symbol, side
        ON CONFLICT (user_id, symbol, side) DO UPDATE SET
            quantity = held.quantity + EXCLUDED.quantity,
            notional = held.notional + EXCLUDED.notional;
    ELSE
        INSERT INTO open_order_exposure AS held (user_id, symbol, side, quantity, notional)
        SELECT user_id, symbol, side, sum(quantity), sum(notional) FROM (
            SELECT user_id, symbol, side, quantity - filled_quantity AS quantity,
                (quantity - filled_quantity) * coalesce(hold_price, price, 0) AS notional
            FROM new_rows WHERE status IN ('pending', 'submitted', 'partially_filled')
            UNION ALL
            SELECT user_id, symbol, side, -(quantity - filled_quantity),
                -(quantity - filled_quantity) * coalesce(hold_price, price, 0)
            FROM old_rows WHERE status IN ('pending', 'submitted', 'partially_filled')
        ) AS changes
        GROUP BY user_id, symbol, side HAVING sum(quantity) <> 0 OR sum(notional) <> 0
        ORDER BY user_id, symbol, side
        ON CONFLICT (user_id, symbol, side) DO UPDATE SET
            quantity = held.quantity + EXCLUDED.quantity,
            notional = held.notional + EXCLUDED.notional;
    END IF;
    RETURN NULL;
END
$$
"""
# Named to fire after 0006's count triggers (PostgreSQL fires them in name order): every
# transaction takes a user's count row before the exposure rows, as booking does.
POSTGRESQL_TRIGGERS = [
    "CREATE TRIGGER orders_expose_open_insert AFTER INSERT ON orders"
    " REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION redfire_expose_open_orders()",
    "CREATE TRIGGER orders_expose_open_update AFTER UPDATE ON orders"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION redfire_expose_open_orders()",
    "CREATE TRIGGER orders_expose_open_delete AFTER DELETE ON orders"
    " REFERENCING OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION redfire_expose_open_orders()",
]
TRIGGERS = ("orders_expose_open_insert", "orders_expose_open_update", "orders_expose_open_delete")
# Orders open before this version: a market order's last price at booking is not known.
BACKFILL_HOLD_PRICES = """
UPDATE orders SET hold_price = coalesce(price, avg_fill_price)
WHERE status IN ('pending', 'submitted', 'partially_filled')
"""
BACKFILL_EXPOSURE = """
INSERT INTO open_order_exposure (user_id, symbol, side, quantity, notional)
SELECT user_id, symbol, side, sum(quantity - filled_quantity),
    sum((quantity - filled_quantity) * coalesce(hold_price, price, 0))
FROM orders WHERE status IN ('pending', 'submitted', 'partially_filled')
GROUP BY user_id, symbol, side
"""


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column(
            "hold_price", backend.core.database.types.Money(precision=24, scale=8), nullable=True
        ),
    )
    op.add_column(
        "open_order_counts",
        sa.Column("bookings", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_table(
        "open_order_exposure",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
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
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("notional", sa.Numeric(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_open_order_exposure_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "symbol", "side", name=op.f("pk_open_order_exposure")),
    )
    op.execute(BACKFILL_HOLD_PRICES)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        for trigger in POSTGRESQL_TRIGGERS:
            op.execute(trigger)
        op.execute(BACKFILL_EXPOSURE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger in TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger} ON orders")
        op.execute("DROP FUNCTION redfire_expose_open_orders()")
    op.drop_table("open_order_exposure")
    op.drop_column("open_order_counts", "bookings")
    op.drop_column("orders", "hold_price")
