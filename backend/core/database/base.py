"""Declarative base with a constraint naming convention and money-safe column types."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import MetaData, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.core.database.types import Money, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Quantities, prices and money: 16 digits before the point, 8 after (API.md).
MONEY = Money()


def utcnow() -> datetime:
    """Aware UTC now."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of every ORM model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {Decimal: MONEY, datetime: UTCDateTime()}


class TimestampMixin:
    """created_at / updated_at, set by the application in aware UTC."""

    @staticmethod
    def stamp_modified(session: AsyncSession, rows: Iterable[TimestampMixin]) -> None:
        """Give the rows this session will write one explicit `updated_at`.

        Before a flush whose objects are read back (answers, listeners): when one UPDATE
        carries several rows (executemany), the ORM hands every object the first row's
        `onupdate` time, not the time its row was written with.
        """
        now = utcnow()
        for row in rows:
            if session.is_modified(row):
                row.updated_at = now

    created_at: Mapped[datetime] = mapped_column(
        default=utcnow, server_default=func.current_timestamp()
    )
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.current_timestamp()
    )
