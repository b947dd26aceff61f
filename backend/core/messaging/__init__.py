"""Messaging: one port (channels, leases, key-value) with a memory and a Redis implementation."""

from backend.core.messaging.factory import create_messaging
from backend.core.messaging.leases import MemoryLeaseStore, RedisLeaseStore
from backend.core.messaging.memory import MemoryBroker, MemoryMessaging
from backend.core.messaging.port import (
    LeaseStore,
    Messaging,
    MessagingUnavailableError,
    Subscription,
)
from backend.core.messaging.redis_broker import RedisMessaging

__all__ = [
    "LeaseStore",
    "MemoryBroker",
    "MemoryLeaseStore",
    "MemoryMessaging",
    "Messaging",
    "MessagingUnavailableError",
    "RedisLeaseStore",
    "RedisMessaging",
    "Subscription",
    "create_messaging",
]
