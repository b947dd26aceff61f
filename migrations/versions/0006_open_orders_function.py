"""redfire_open_orders_locked: a booking's per-user lock and open-order count in one call.

PostgreSQL only (SQLite has one writer at a time, and counts with a plain SELECT). The lock
must be taken before the count's snapshot: in READ COMMITTED each statement of a VOLATILE
function takes a new one, so the count sees what the previous holder of the lock committed,
and the booking spends one round trip on both instead of two.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE = """
CREATE FUNCTION redfire_open_orders_locked(namespace integer, user_ids integer[], statuses text[])
RETURNS TABLE (owner_id integer, open_orders bigint)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- One booking per user at a time, on every replica; in id order, so none deadlock.
    PERFORM pg_advisory_xact_lock(namespace, locked.id)
        FROM unnest(user_ids) AS locked(id) ORDER BY locked.id;
    RETURN QUERY
        SELECT orders.user_id, count(*) FROM orders
        WHERE orders.user_id = ANY(user_ids) AND orders.status = ANY(statuses)
        GROUP BY orders.user_id;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION redfire_open_orders_locked(integer, integer[], text[])")
