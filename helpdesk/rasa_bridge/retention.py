"""Retention of Rasa's SQL tracker store (the `events` table): the conversations' record.

An event past the cut-off goes when its conversation is over for it: either the sender wrote
nothing since the cut-off (the whole conversation is that old), or a later session of the
sender has started (the event belongs to an earlier session, which Rasa no longer loads).
The session a citizen is in is never cut, so a tracker Rasa loads stays whole. Works on
SQLite and PostgreSQL, a batch a transaction; `forget_sender` removes one sender's events
entirely (a citizen's deletion request).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, exists, func, inspect, or_, select
from sqlalchemy.engine import Engine

from helpdesk.rasa_bridge.events import RASA_EVENTS

#: The action that opens a session (Rasa's `ACTION_SESSION_START_NAME`).
SESSION_START = "action_session_start"


def _expired(cutoff: datetime):
    events = RASA_EVENTS
    later = RASA_EVENTS.alias("later")
    start = RASA_EVENTS.alias("start")
    stamp = cutoff.timestamp()
    idle = ~exists(
        select(later.c.id).where(
            later.c.sender_id == events.c.sender_id, later.c.timestamp >= stamp
        )
    )
    earlier_session = exists(
        select(start.c.id).where(
            start.c.sender_id == events.c.sender_id,
            start.c.type_name == "action",
            start.c.action_name == SESSION_START,
            start.c.id > events.c.id,
            start.c.timestamp >= stamp,
        )
    )
    return and_(events.c.timestamp < stamp, or_(idle, earlier_session))


class TrackerRetention:
    """Count and delete tracker events past their retention."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _has_table(self) -> bool:
        return inspect(self.engine).has_table(RASA_EVENTS.name)

    def due(self, cutoff: datetime) -> int:
        """How many events would go (0 while Rasa has not created its table)."""
        if not self._has_table():
            return 0
        stmt = select(func.count()).select_from(RASA_EVENTS).where(_expired(cutoff))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar() or 0)

    def purge_batch(self, cutoff: datetime, *, batch: int = 500) -> int:
        """Delete up to `batch` events past `cutoff`; how many went."""
        if not self._has_table():
            return 0
        with self.engine.begin() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    select(RASA_EVENTS.c.id)
                    .where(_expired(cutoff))
                    .order_by(RASA_EVENTS.c.id)
                    .limit(batch)
                )
            ]
            if ids:
                conn.execute(delete(RASA_EVENTS).where(RASA_EVENTS.c.id.in_(ids)))
            return len(ids)

    def forget_sender(self, sender_id: str) -> int:
        """Delete every event of one sender; how many went."""
        if not self._has_table():
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(delete(RASA_EVENTS).where(RASA_EVENTS.c.sender_id == sender_id))
            return int(result.rowcount or 0)
