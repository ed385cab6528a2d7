"""Long button payloads behind the short ids the channels send (the `button_payload` table)."""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import ButtonPayload, utcnow

#: A long payload longer than this is not stored (no button payload is near it).
PAYLOAD_LIMIT = 16_384


class ButtonPayloadRepository:
    """Short id -> payload, shared by every process; an id is the hash of its payload."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._sessions = session_factory

    def save(self, short_id: str, payload: str) -> bool:
        """Remember `payload` under `short_id` (kept as it is when the id is known already).

        Returns:
            True when the row was added now, False when it was there already.

        Raises:
            ValueError: For an empty id or payload, an id over 128 characters or a payload over
                `PAYLOAD_LIMIT`.
        """
        if not short_id or not payload:
            raise ValueError("short_id and payload must not be empty")
        if len(short_id) > 128 or len(payload) > PAYLOAD_LIMIT:
            raise ValueError("short_id or payload too long")

        def work() -> bool:
            try:
                with session_scope(self._sessions) as session:
                    if session.get(ButtonPayload, short_id) is not None:
                        return False
                    session.add(
                        ButtonPayload(short_id=short_id, payload=payload, created_at=utcnow())
                    )
                    session.flush()
                return True
            except IntegrityError:  # another process stored the same id at the same time
                return False

        return retry_on_locked(work)

    def get(self, short_id: str) -> str | None:
        """The payload behind `short_id`; None when it is not known."""

        def work() -> str | None:
            with session_scope(self._sessions) as session:
                row = session.get(ButtonPayload, short_id)
                return None if row is None else str(row.payload)

        return retry_on_locked(work)

    def purge(self, older_than: timedelta) -> int:
        """Forget payloads stored more than `older_than` ago; returns how many."""

        def work() -> int:
            with session_scope(self._sessions) as session:
                result = session.execute(
                    delete(ButtonPayload).where(ButtonPayload.created_at < utcnow() - older_than)
                )
                return int(result.rowcount or 0)

        return retry_on_locked(work)
