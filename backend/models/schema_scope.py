"""What Alembic's autogenerate and the schema check compare: RedFire's own tables only."""

from __future__ import annotations

from collections.abc import Mapping

from backend.models.market import include_name as include_market_name

# procrastinate's tables (migration 0014 creates them from its own schema SQL).
JOB_ENGINE_PREFIX = "procrastinate_"


def include_name(name: str | None, type_: str, parents: Mapping[str, str | None]) -> bool:
    """Alembic's `include_name`: leaves out market partitions and the job engine's tables."""
    if type_ == "table" and name is not None and name.startswith(JOB_ENGINE_PREFIX):
        return False
    return include_market_name(name, type_, parents)
