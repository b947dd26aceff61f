"""Database access: engine, sessions, the declarative Base and AsyncRepository."""

from backend.core.database.base import MONEY, Base, TimestampMixin, utcnow
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.repository import AsyncRepository

__all__ = ["MONEY", "AsyncDatabaseManager", "AsyncRepository", "Base", "TimestampMixin", "utcnow"]
