"""The declarative base and the column types every table of the helpdesk store uses.

Times are timezone-aware UTC: SQLite keeps no time zone, so `UTCDateTime` stores naive UTC and
gives aware UTC back on every backend. Text columns drop NUL characters (`CleanText`,
`CleanString`), which PostgreSQL refuses.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    DateTime,
    MetaData,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator

from helpdesk.storage.enums import StrEnum

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Base: Any = declarative_base(metadata=metadata)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def one_of(column: str, values: type[StrEnum]) -> str:
    """The SQL of a CHECK constraint keeping `column` to an enum's values."""
    return f"{column} IN ({', '.join(repr(member.value) for member in values)})"


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite included).

    Naive datetimes are refused on the way in: a time without a zone is ambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _without_nul(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


class CleanText(TypeDecorator):
    """Text without NUL characters: PostgreSQL refuses them in text ("A string literal cannot
    contain NUL"), and they carry nothing a citizen meant; removed on every backend alike."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _without_nul(value)


class CleanString(TypeDecorator):
    """A bounded string without NUL characters (see `CleanText`)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _without_nul(value)
