"""Repository of the agents' replies to the citizens (the outbox of the human handoff).

A reply is a text, a file the agent attached (a reference in the helpdesk file store,
`helpdesk.handoff.agent_files`) or both. It is stored first (pending), then delivered through
the Rasa server by the desk's worker and marked sent, or failed once the worker gives up on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import OutboxStatus
from helpdesk.storage.models import HandoffMessage, utcnow


@dataclass(frozen=True)
class HandoffMessageRecord:
    """An agent's reply, detached from any session."""

    id: int
    handoff_id: int
    agent_id: int | None
    text: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    attachment_key: str | None = None
    attachment_name: str | None = None

    @classmethod
    def from_row(cls, row: HandoffMessage) -> "HandoffMessageRecord":
        return cls(
            id=row.id,
            handoff_id=row.handoff_id,
            agent_id=row.agent_id,
            text=row.text,
            status=row.status,
            attempts=row.attempts or 0,
            created_at=row.created_at,
            sent_at=row.sent_at,
            attachment_key=row.attachment_key,
            attachment_name=row.attachment_name,
        )


class HandoffMessageRepository(_Repository):
    """Agents' replies: stored first, delivered through the Rasa server, marked sent."""

    def add(
        self,
        handoff_id: int,
        agent_id: int | None,
        text: str,
        *,
        attachment_key: str | None = None,
        attachment_name: str | None = None,
    ) -> HandoffMessageRecord:
        """Store a reply (pending): a text, a file (`attachment_key`, its name) or both."""
        if not text.strip() and not attachment_key:
            raise ValueError("a reply must not be empty")
        if bool(attachment_key) != bool(attachment_name):
            raise ValueError("a reply's file needs its key and its name")

        def work() -> HandoffMessageRecord:
            with session_scope(self._sessions) as session:
                row = HandoffMessage(
                    handoff_id=handoff_id,
                    agent_id=agent_id,
                    text=text,
                    status=OutboxStatus.PENDING,
                    attempts=0,
                    created_at=utcnow(),
                    attachment_key=attachment_key or None,
                    attachment_name=attachment_name or None,
                )
                session.add(row)
                session.flush()
                return HandoffMessageRecord.from_row(row)

        return retry_on_locked(work)

    def get(self, message_id: int) -> HandoffMessageRecord | None:
        with session_scope(self._sessions) as session:
            row = session.get(HandoffMessage, message_id)
            return HandoffMessageRecord.from_row(row) if row is not None else None

    def pending(self, limit: int = 100) -> list[HandoffMessageRecord]:
        """Replies not delivered yet, oldest first."""
        stmt = (
            select(HandoffMessage)
            .where(HandoffMessage.status == OutboxStatus.PENDING)
            .order_by(HandoffMessage.id)
            .limit(limit)
        )
        with session_scope(self._sessions) as session:
            return [HandoffMessageRecord.from_row(row) for row in session.scalars(stmt).all()]

    def for_handoff(self, handoff_id: int) -> list[HandoffMessageRecord]:
        stmt = (
            select(HandoffMessage)
            .where(HandoffMessage.handoff_id == handoff_id)
            .order_by(HandoffMessage.id)
        )
        with session_scope(self._sessions) as session:
            return [HandoffMessageRecord.from_row(row) for row in session.scalars(stmt).all()]

    def mark_sent(self, message_id: int) -> bool:
        def work() -> bool:
            stmt = (
                update(HandoffMessage)
                .where(
                    HandoffMessage.id == message_id, HandoffMessage.status == OutboxStatus.PENDING
                )
                .values(status=OutboxStatus.SENT, sent_at=utcnow())
            )
            with session_scope(self._sessions) as session:
                return bool(session.execute(stmt).rowcount)

        return retry_on_locked(work)

    def note_failure(self, message_id: int, *, give_up: bool) -> HandoffMessageRecord | None:
        """Count a failed delivery; with `give_up` the reply is marked failed for good."""

        def work() -> HandoffMessageRecord | None:
            with session_scope(self._sessions) as session:
                row = session.get(HandoffMessage, message_id)
                if row is None or row.status != OutboxStatus.PENDING:
                    return None
                row.attempts = (row.attempts or 0) + 1
                if give_up:
                    row.status = OutboxStatus.FAILED
                session.flush()
                return HandoffMessageRecord.from_row(row)

        return retry_on_locked(work)
