"""open_order_counts: each user's open orders, kept by triggers on `orders`.

Booking reads (and on PostgreSQL locks) one row per user instead of counting the user's open
orders, which grew with them. Every statement that inserts, deletes or changes the status of
orders keeps the count, so no code path can forget to: PostgreSQL once per statement (over
its transition tables), SQLite once per row. Open means pending, submitted or partially
filled (services/orders/risk.py OPEN_STATUSES).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRESQL_FUNCTION = """
CREATE FUNCTION redfire_count_open_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Transition tables exist only for the events that have them: one statement per event.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO open_order_counts AS counts (user_id, open_orders)
        SELECT user_id, count(*) FROM new_rows
        WHERE status IN ('pending', 'submitted', 'partially_filled')
        GROUP BY user_id ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET open_orders = counts.open_orders + EXCLUDED.open_orders;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE open_order_counts AS counts SET open_orders = counts.open_orders - closed.orders
        FROM (
            SELECT user_id, count(*) AS orders FROM old_rows
            WHERE status IN ('pending', 'submitted', 'partially_filled') GROUP BY user_id
        ) AS closed
        WHERE counts.user_id = closed.user_id;
    ELSE
        INSERT INTO open_order_counts AS counts (user_id, open_orders)
        SELECT user_id, sum(delta) FROM (
            SELECT user_id, 1 AS delta FROM new_rows
            WHERE status IN ('pending', 'submitted', 'partially_filled')
            UNION ALL
            SELECT user_id, -1 AS delta FROM old_rows
            WHERE status IN ('pending', 'submitted', 'partially_filled')
        ) AS changes
        GROUP BY user_id HAVING sum(delta) <> 0 ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET open_orders = counts.open_orders + EXCLUDED.open_orders;
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGERS = [
    "CREATE TRIGGER orders_count_open_insert AFTER INSERT ON orders"
    " REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION redfire_count_open_orders()",
    "CREATE TRIGGER orders_count_open_update AFTER UPDATE ON orders"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION redfire_count_open_orders()",
    "CREATE TRIGGER orders_count_open_delete AFTER DELETE ON orders"
    " REFERENCING OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION redfire_count_open_orders()",
]
SQLITE_TRIGGERS = [
    """CREATE TRIGGER orders_count_open_insert AFTER INSERT ON orders
    WHEN NEW.status IN ('pending', 'submitted', 'partially_filled')
    BEGIN
        INSERT INTO open_order_counts (user_id, open_orders) VALUES (NEW.user_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET open_orders = open_orders + 1;
    END""",
    """CREATE TRIGGER orders_count_open_update AFTER UPDATE OF status ON orders
    WHEN (OLD.status IN ('pending', 'submitted', 'partially_filled'))
        <> (NEW.status IN ('pending', 'submitted', 'partially_filled'))
    BEGIN
        INSERT INTO open_order_counts (user_id, open_orders)
        VALUES (
            NEW.user_id,
            CASE WHEN NEW.status IN ('pending', 'submitted', 'partially_filled') THEN 1 ELSE -1 END
        )
        ON CONFLICT (user_id) DO UPDATE SET open_orders = open_orders + excluded.open_orders;
    END""",
    """CREATE TRIGGER orders_count_open_delete AFTER DELETE ON orders
    WHEN OLD.status IN ('pending', 'submitted', 'partially_filled')
    BEGIN
        UPDATE open_order_counts SET open_orders = open_orders - 1 WHERE user_id = OLD.user_id;
    END""",
]
TRIGGERS = ("orders_count_open_insert", "orders_count_open_update", "orders_count_open_delete")
BACKFILL = """
INSERT INTO open_order_counts (user_id, open_orders)
SELECT user_id, count(*) FROM orders
WHERE status IN ('pending', 'submitted', 'partially_filled')
GROUP BY user_id
"""


def upgrade() -> None:
    op.create_table(
        "open_order_counts",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("open_orders", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_open_order_counts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_open_order_counts")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(POSTGRESQL_FUNCTION)
    for trigger in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(trigger)
    op.execute(BACKFILL)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger} ON orders" if postgresql else f"DROP TRIGGER {trigger}")
    if postgresql:
        op.execute("DROP FUNCTION redfire_count_open_orders()")
    op.drop_table("open_order_counts")
