"""Conversation session starts, one row each (counted by the reports)."""

from __future__ import annotations

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import Conversation, utcnow


class ConversationRepository(_Repository):
    """Conversation session starts (one row each)."""

    def record_session_start(self, sender_id: str, channel: str | None = None) -> None:
        """Record that a conversation session started."""

        def work() -> None:
            with session_scope(self._sessions) as session:
                session.add(Conversation(sender_id=sender_id, channel=channel, started_at=utcnow()))

        retry_on_locked(work)
