"""Strategy ownership: one replica runs a strategy while it holds the strategy's lease.

The leases themselves are the messaging port's (backend.core.messaging): memory in one
process, Redis keys shared by every replica.
"""

from __future__ import annotations

from backend.core.messaging.port import LeaseStore

__all__ = ["LeaseStore", "lease_name"]


def lease_name(strategy_id: int) -> str:
    """The ownership lease of one strategy."""
    return f"strategy:{strategy_id}"
