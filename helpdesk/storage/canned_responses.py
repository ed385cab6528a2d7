"""Repository of the canned responses: reply templates for agents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import CannedResponse, utcnow

#: Placeholder of the citizen's name in a canned response.
NAME_PLACEHOLDER = "{nama}"
#: Used for `{nama}` when the citizen's name is unknown.
NAME_FALLBACK = "Bapak/Ibu"


@dataclass(frozen=True)
class CannedResponseRecord:
    """A reply template; `{nama}` stands for the citizen's name."""

    id: int
    title: str
    body: str
    created_at: datetime
    updated_at: datetime

    def fill(self, name: str | None) -> str:
        """The body with `{nama}` replaced by `name` (or "Bapak/Ibu" when unknown)."""
        return fill_placeholder(self.body, name)

    @classmethod
    def from_row(cls, row: CannedResponse) -> "CannedResponseRecord":
        return cls(
            id=row.id,
            title=row.title,
            body=row.body,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def fill_placeholder(body: str, name: str | None) -> str:
    """Replace `{nama}` in a canned response (plain replacement: other braces stay as typed)."""
    cleaned = (name or "").strip()
    return body.replace(NAME_PLACEHOLDER, cleaned or NAME_FALLBACK)


class CannedResponseRepository(_Repository):
    """Reply templates for agents."""

    def create(self, title: str, body: str) -> CannedResponseRecord:
        """Store a canned response.

        Raises:
            ValueError: For an empty title or body.
        """
        title, body = _check_canned(title, body)

        def work() -> CannedResponseRecord:
            now = utcnow()
            with session_scope(self._sessions) as session:
                row = CannedResponse(title=title, body=body, created_at=now, updated_at=now)
                session.add(row)
                session.flush()
                return CannedResponseRecord.from_row(row)

        return retry_on_locked(work)

    def get(self, response_id: int) -> CannedResponseRecord | None:
        """The canned response with this id, or None."""
        with session_scope(self._sessions) as session:
            row = session.get(CannedResponse, response_id)
            return CannedResponseRecord.from_row(row) if row is not None else None

    def list(self) -> list[CannedResponseRecord]:
        """Every canned response, by title."""
        with session_scope(self._sessions) as session:
            rows = session.execute(
                select(CannedResponse).order_by(func.lower(CannedResponse.title), CannedResponse.id)
            )
            return [CannedResponseRecord.from_row(row) for row in rows.scalars()]

    def update(self, response_id: int, *, title: str, body: str) -> CannedResponseRecord | None:
        """Replace a canned response's title and body; None when it does not exist."""
        title, body = _check_canned(title, body)

        def work() -> CannedResponseRecord | None:
            with session_scope(self._sessions) as session:
                row = session.get(CannedResponse, response_id)
                if row is None:
                    return None
                row.title = title
                row.body = body
                row.updated_at = utcnow()
                session.flush()
                return CannedResponseRecord.from_row(row)

        return retry_on_locked(work)

    def delete(self, response_id: int) -> bool:
        """Delete a canned response; False when it does not exist."""

        def work() -> bool:
            with session_scope(self._sessions) as session:
                row = session.get(CannedResponse, response_id)
                if row is None:
                    return False
                session.delete(row)
                return True

        return retry_on_locked(work)


def _check_canned(title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    if not title or not body:
        raise ValueError("canned response title and body must not be empty")
    if len(title) > 100:
        raise ValueError("canned response title is longer than 100 characters")
    return title, body
