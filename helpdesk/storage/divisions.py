"""Repository of the divisions: teams of agents and the FAQ categories each serves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.desk_users import DuplicateNameError
from helpdesk.storage.models import Division, utcnow


@dataclass(frozen=True)
class DivisionRecord:
    """A team of agents and the FAQ categories it serves."""

    id: int
    name: str
    categories: tuple[str, ...]
    created_at: datetime

    @classmethod
    def from_row(cls, row: Division) -> "DivisionRecord":
        return cls(
            id=row.id,
            name=row.name,
            categories=split_categories(row.categories or ""),
            created_at=row.created_at,
        )


def split_categories(text: str | Iterable[str]) -> tuple[str, ...]:
    """FAQ categories from comma-separated text (or an iterable): trimmed, no duplicates."""
    items = text.split(",") if isinstance(text, str) else list(text)
    seen: dict[str, str] = {}
    for item in items:
        cleaned = str(item).strip()
        if cleaned and cleaned.lower() not in seen:
            seen[cleaned.lower()] = cleaned
    return tuple(seen.values())


class DivisionRepository(_Repository):
    """Divisions (teams of agents) and the FAQ categories each serves."""

    def create(self, name: str, categories: str | Iterable[str] = ()) -> DivisionRecord:
        """Store a division.

        Raises:
            DuplicateNameError: When the name is taken.
            ValueError: For an empty name.
        """
        name = name.strip()
        if not name:
            raise ValueError("division name must not be empty")
        joined = ",".join(split_categories(categories))

        def work() -> DivisionRecord:
            try:
                with session_scope(self._sessions) as session:
                    if self._name_taken(session, name, None):
                        raise DuplicateNameError(name)
                    row = Division(name=name, categories=joined, created_at=utcnow())
                    session.add(row)
                    session.flush()
                    return DivisionRecord.from_row(row)
            except IntegrityError as exc:
                raise DuplicateNameError(name) from exc

        return retry_on_locked(work)

    def get(self, division_id: int) -> DivisionRecord | None:
        """The division with this id, or None."""
        with session_scope(self._sessions) as session:
            row = session.get(Division, division_id)
            return DivisionRecord.from_row(row) if row is not None else None

    def list(self) -> list[DivisionRecord]:
        """Every division, by name."""
        with session_scope(self._sessions) as session:
            rows = session.execute(select(Division).order_by(func.lower(Division.name)))
            return [DivisionRecord.from_row(row) for row in rows.scalars()]

    def for_category(self, category: str | None) -> DivisionRecord | None:
        """The first division (by name) serving an FAQ category (case-insensitive), or None."""
        if not category or not category.strip():
            return None
        wanted = category.strip().lower()
        return next(
            (d for d in self.list() if wanted in {c.lower() for c in d.categories}),
            None,
        )

    def id_for_category(self, category: str | None) -> int | None:
        """The id of the division serving an FAQ category, or None (`HandoffService` input)."""
        division = self.for_category(category)
        return division.id if division is not None else None

    def update(
        self, division_id: int, *, name: str, categories: str | Iterable[str]
    ) -> DivisionRecord | None:
        """Rename a division and replace its categories; None when it does not exist.

        Raises:
            DuplicateNameError: When another division has the name.
            ValueError: For an empty name.
        """
        name = name.strip()
        if not name:
            raise ValueError("division name must not be empty")
        joined = ",".join(split_categories(categories))

        def work() -> DivisionRecord | None:
            try:
                with session_scope(self._sessions) as session:
                    row = session.get(Division, division_id)
                    if row is None:
                        return None
                    if self._name_taken(session, name, division_id):
                        raise DuplicateNameError(name)
                    row.name = name
                    row.categories = joined
                    session.flush()
                    return DivisionRecord.from_row(row)
            except IntegrityError as exc:
                raise DuplicateNameError(name) from exc

        return retry_on_locked(work)

    def delete(self, division_id: int) -> bool:
        """Delete a division (its users and handoffs keep no division); False if missing."""

        def work() -> bool:
            with session_scope(self._sessions) as session:
                row = session.get(Division, division_id)
                if row is None:
                    return False
                # Users and handoffs of the division keep none (ON DELETE SET NULL; the
                # engine turns SQLite's foreign keys on).
                session.delete(row)
                return True

        return retry_on_locked(work)

    @staticmethod
    def _name_taken(session: Any, name: str, own_id: int | None) -> bool:
        stmt = select(Division.id).where(func.lower(Division.name) == name.lower())
        if own_id is not None:
            stmt = stmt.where(Division.id != own_id)
        return session.execute(stmt).first() is not None
