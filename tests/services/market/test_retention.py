"""Retention drops whole months on PostgreSQL and deletes rows on SQLite; partitions ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from backend.app.container import AppContainer
from backend.core.config.settings import MarketConfig
from backend.services.market.intervals import BarInterval
from backend.services.market.retention import Retention
from tests.services.market.support import SYMBOL, imported

NOW = datetime(2031, 6, 15, 12, tzinfo=UTC)


async def partitions(container: AppContainer) -> set[str]:
    async with container.database.session() as session:
        rows = await session.execute(
            text(
                "SELECT child.relname FROM pg_inherits"
                " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
                " JOIN pg_class parent ON parent.oid = pg_inherits.inhparent"
                " WHERE parent.relname = 'market_bars'"
            )
        )
        return {name for (name,) in rows}


async def test_bars_older_than_the_retention_go_and_the_rest_stay(
    container: AppContainer,
) -> None:
    minutes = [NOW - timedelta(days=days) for days in (400, 200, 100, 91, 89, 10)]
    await container.history.store.write_bars([imported(moment, "10") for moment in minutes])
    retention = Retention(
        container.database, container.history.partitions, MarketConfig(retention_days=90)
    )
    done = await retention.run_once(NOW)
    kept = await container.history.history.load_bars(
        SYMBOL, BarInterval.MINUTE, NOW - timedelta(days=1000), NOW
    )
    assert [bar.datetime for bar in kept] == minutes[-2:]
    assert done["market_bars_rows_deleted"] >= 1  # 2031-03-16, 91 days back, mid-month
    if container.database.config.is_sqlite:
        assert done["market_bars_rows_deleted"] == 4
        return
    # 400 and 200 days back lie in months wholly past the cutoff (2031-03-17): dropped.
    names = await partitions(container)
    assert "market_bars_p203005" not in names
    assert "market_bars_p203011" not in names
    assert done["market_bars_partitions_dropped"] >= 2
    assert {"market_bars_p203103", "market_bars_p203106", "market_bars_p203108"} <= names
