"""Cancelling a queued or running job's row (a backtest, an optimisation) in one statement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow


async def cancel_unfinished(
    session: AsyncSession, model: Any, row_id: int, *, unfinished: tuple[Any, ...], cancelled: Any
) -> bool:
    """Set row `row_id` of `model` to `cancelled` (and finished now) if its status is one of
    `unfinished`; False when it had ended already. The status is compared in the statement,
    so a job finishing meanwhile is never overwritten."""
    now = utcnow()
    result = await session.execute(
        update(model)
        .where(model.id == row_id, model.status.in_(unfinished))
        .values(status=cancelled, finished_at=now, updated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))
