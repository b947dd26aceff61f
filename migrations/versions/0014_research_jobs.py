"""research jobs: procrastinate's schema (PostgreSQL); each optimisation's and backtest's
claim and job, and a backtest's inputs kept.

`attempt` counts the claims of a row (a run writes only while the row is still its claim)
and `job_id` names the procrastinate job that runs it; a backtest run by a worker keeps its
upload (`bars_csv`, gzipped) or its stored range (`request`: interval, start, end). On PostgreSQL
the procrastinate schema of the installed version (`procrastinate schema --apply`'s SQL) is
created; SQLite has no job engine (the API's local pool runs research there).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.util import await_only

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Everything procrastinate's schema creates is named procrastinate_*: dropped by name.
_DROP_PROCRASTINATE = """
DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT tablename FROM pg_tables
                WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%'
    LOOP EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename); END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
    LOOP EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature); END LOOP;
    FOR item IN SELECT t.typname FROM pg_type t
                JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
                  AND t.typtype IN ('e', 'c')
    LOOP EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname); END LOOP;
END $$;
"""


def _run_script(sql: str) -> None:
    """Several statements at once (asyncpg prepares one statement per execute otherwise)."""
    driver = op.get_bind().connection.driver_connection
    await_only(driver.execute(sql))  # type: ignore[union-attr]


def upgrade() -> None:
    for table in ("optimizations", "backtests"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("attempt", sa.Integer(), server_default="0", nullable=False)
            )
            batch_op.add_column(sa.Column("job_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("backtests") as batch_op:
        batch_op.add_column(sa.Column("request", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("bars_csv", sa.LargeBinary(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    _run_script(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run_script(_DROP_PROCRASTINATE)
    with op.batch_alter_table("backtests") as batch_op:
        batch_op.drop_column("bars_csv")
        batch_op.drop_column("request")
    for table in ("backtests", "optimizations"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("job_id")
            batch_op.drop_column("attempt")
