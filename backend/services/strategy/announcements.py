"""What the owner's WebSocket `strategy` topic hears of a strategy: its start, stop and
errors (from the engine), and its log lines and variables (from the strategy itself)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.services.strategy.runner import StrategyRecord

# (owner's user id, event data): the stream's publish_strategy_event
StrategyEventSink = Callable[[int, dict[str, Any]], None]
# One strategy's events, already addressed (what a BaseStrategy calls)
StrategyEvents = Callable[[dict[str, Any]], None]


class StrategyAnnouncer:
    """Addresses each event to the strategy's owner, naming the strategy and this replica."""

    def __init__(self, publish: StrategyEventSink | None, *, replica_id: str) -> None:
        self.publish = publish
        self.replica_id = replica_id

    def events_of(self, record: StrategyRecord) -> StrategyEvents | None:
        """The sink a strategy publishes its own events (log lines, variables) to."""
        publish = self.publish
        if publish is None:
            return None
        about = {"strategy_id": record.id, "symbol": record.symbol, "class_name": record.class_name}

        def events(data: dict[str, Any]) -> None:
            publish(record.user_id, {**about, **data})

        return events

    def lifecycle(self, record: StrategyRecord, event: str, **extra: Any) -> None:
        """`started`, `stopped` or `error` (with its `message`), on this replica."""
        events = self.events_of(record)
        if events is not None:
            events({"event": event, "replica": self.replica_id, **extra})
