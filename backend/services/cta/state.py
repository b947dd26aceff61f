"""Where a live CTA strategy's synced variables are kept: its strategy row (`variables`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from backend.core.database.manager import AsyncDatabaseManager
from backend.models.strategy import Strategy


class CtaVariableStore:
    """vnpy's `cta_strategy_data.json`, per strategy, in the database every replica shares."""

    def __init__(self, database: AsyncDatabaseManager) -> None:
        self.database = database

    async def load(self, strategy_id: int) -> dict[str, Any]:
        """What the strategy last synced ({} before its first sync)."""
        async with self.database.read_connection() as connection:
            saved = await connection.scalar(
                select(Strategy.variables).where(Strategy.id == strategy_id)
            )
        return dict(saved) if isinstance(saved, dict) else {}

    async def save(self, strategy_id: int, variables: dict[str, Any]) -> None:
        """Keep the variables; not a change of the strategy (updated_at stays)."""
        async with self.database.session() as session:
            await session.execute(
                update(Strategy)
                .where(Strategy.id == strategy_id)
                .values(variables=variables, updated_at=Strategy.updated_at)
                .execution_options(synchronize_session=False)
            )
