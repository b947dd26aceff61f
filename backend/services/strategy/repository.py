"""Queries on strategies used by the REST service and the engine."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, select, update

from backend.core.database.repository import AsyncRepository
from backend.models.enums import StrategyStatus, UserRole
from backend.models.strategy import Strategy
from backend.models.user import User
from backend.services.strategy.runner import StrategyProgress, StrategyRecord

LAST_ERROR_MAX = 2000


def to_record(strategy: Strategy) -> StrategyRecord:
    """A detached copy of what the engine needs."""
    return StrategyRecord(
        id=strategy.id,
        user_id=strategy.user_id,
        name=strategy.name,
        class_name=strategy.class_name,
        symbol=strategy.symbol,
        parameters=dict(strategy.parameters),
        ticks_processed=strategy.ticks_processed,
        orders_placed=strategy.orders_placed,
    )


class StrategyRepository(AsyncRepository[Strategy]):
    """Strategies, always scoped to their owner when a user asks."""

    model = Strategy

    async def list_owned(self, user_id: int, *, limit: int, offset: int) -> Sequence[Strategy]:
        """A page of the user's strategies, oldest first."""
        result = await self.session.scalars(
            select(Strategy)
            .where(Strategy.user_id == user_id)
            .order_by(Strategy.id)
            .limit(limit)
            .offset(offset)
        )
        return result.all()

    async def count_owned(self, user_id: int) -> int:
        """How many strategies the user has."""
        owned = Strategy.user_id == user_id
        total = await self.session.scalar(select(func.count()).select_from(Strategy).where(owned))
        return int(total or 0)

    async def get_owned(self, strategy_id: int, user_id: int) -> Strategy | None:
        """The strategy if it exists and belongs to `user_id`."""
        strategy = await self.session.scalar(
            select(Strategy).where(Strategy.id == strategy_id, Strategy.user_id == user_id)
        )
        return strategy

    async def name_taken(self, user_id: int, name: str, *, excluding: int | None = None) -> bool:
        """True if the user already has a strategy called `name`."""
        query = select(Strategy.id).where(Strategy.user_id == user_id, Strategy.name == name)
        if excluding is not None:
            query = query.where(Strategy.id != excluding)
        return (await self.session.scalar(query.limit(1))) is not None

    async def list_running(self) -> Sequence[StrategyRecord]:
        """Every strategy whose desired state is running and whose owner may trade.

        An owner deactivated or made a viewer has their strategies stopped when that happens;
        the filter also covers a start that raced with the change.
        """
        result = await self.session.scalars(
            select(Strategy)
            .join(User, User.id == Strategy.user_id)
            .where(
                Strategy.status == StrategyStatus.RUNNING,
                User.is_active.is_(True),
                User.role != UserRole.VIEWER,
            )
            .order_by(Strategy.id)
        )
        return [to_record(strategy) for strategy in result]

    async def stop_all_of(self, user_id: int, reason: str) -> list[int]:
        """Desired state stopped, with `reason`, for each running strategy of the user."""
        result = await self.session.execute(
            update(Strategy)
            .where(Strategy.user_id == user_id, Strategy.status == StrategyStatus.RUNNING)
            .values(status=StrategyStatus.STOPPED, last_error=reason)
            .returning(Strategy.id)
        )
        return sorted(result.scalars())

    async def count_in_error(self) -> int:
        """How many strategies were stopped by an error."""
        total = await self.session.scalar(
            select(func.count())
            .select_from(Strategy)
            .where(Strategy.status == StrategyStatus.ERROR)
        )
        return int(total or 0)

    async def mark_error(self, strategy_id: int, message: str) -> None:
        """Running -> error with the message; a strategy stopped meanwhile keeps its status."""
        await self.session.execute(
            update(Strategy)
            .where(Strategy.id == strategy_id, Strategy.status == StrategyStatus.RUNNING)
            .values(status=StrategyStatus.ERROR, last_error=message[:LAST_ERROR_MAX])
            .execution_options(synchronize_session=False)
        )

    async def mark_stopped(self, strategy_ids: Sequence[int]) -> None:
        """Running -> stopped (resume disabled, nobody owns them)."""
        if strategy_ids:
            await self.session.execute(
                update(Strategy)
                .where(Strategy.id.in_(strategy_ids), Strategy.status == StrategyStatus.RUNNING)
                .values(status=StrategyStatus.STOPPED)
                .execution_options(synchronize_session=False)
            )

    async def record_progress(self, reports: Sequence[StrategyProgress]) -> None:
        """Keep what the runners reported; not a change of the strategy (updated_at stays)."""
        if not reports:
            return
        # Bind names differ from the columns': SQLAlchemy reserves those for the SET clause.
        statement = (
            update(Strategy)
            .where(Strategy.id == bindparam("report_id"))
            .values(
                ticks_processed=bindparam("report_ticks"),
                orders_placed=bindparam("report_orders"),
                position=bindparam("report_position", type_=Strategy.position.type),
                last_update=bindparam("report_time", type_=Strategy.last_update.type),
                updated_at=Strategy.updated_at,
            )
        )
        rows = [
            {
                "report_id": report.strategy_id,
                "report_ticks": report.ticks_processed,
                "report_orders": report.orders_placed,
                "report_position": report.position,
                "report_time": report.last_update,
            }
            for report in reports
        ]
        connection = await self.session.connection()
        await connection.execute(statement, rows)
