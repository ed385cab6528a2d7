"""Reading Rasa's SQL tracker store (the `events` table) without importing Rasa.

The tracker store is the record of every conversation: the idle sweeper reads when citizens
last wrote, the agent desk reads what citizens and the bot said. Only the columns these
readers need are declared (rasa/core/tracker_store.py `SQLTrackerStore.SQLEvent`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

_rasa_metadata = MetaData()
RASA_EVENTS = Table(
    "events",
    _rasa_metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("action_name", String(255)),
    Column("data", Text),
)


@dataclass(frozen=True)
class TrackerEvent:
    """One stored tracker event: its row id (a cursor), type, time and parsed JSON data."""

    id: int
    type_name: str
    timestamp: float
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, tz=timezone.utc)

    @property
    def text(self) -> str:
        return str(self.data.get("text") or "").strip()

    @property
    def metadata(self) -> dict[str, Any]:
        value = self.data.get("metadata")
        return value if isinstance(value, dict) else {}

    @property
    def intent(self) -> str | None:
        parse = self.data.get("parse_data")
        if isinstance(parse, dict) and isinstance(parse.get("intent"), dict):
            name = parse["intent"].get("name")
            return str(name) if name else None
        return None

    def as_rasa_dict(self) -> dict[str, Any]:
        """The event as Rasa serialises it (what `turns_from_events` reads)."""
        return {**self.data, "event": self.data.get("event", self.type_name)}


def read_events(
    engine: Engine,
    sender_id: str,
    *,
    after_id: int = 0,
    since_ts: float | None = None,
    types: tuple[str, ...] | None = None,
    limit: int = 5000,
) -> list[TrackerEvent]:
    """A conversation's events in order, after row `after_id` and from time `since_ts`."""
    query = select(
        RASA_EVENTS.c.id, RASA_EVENTS.c.type_name, RASA_EVENTS.c.timestamp, RASA_EVENTS.c.data
    ).where(RASA_EVENTS.c.sender_id == sender_id, RASA_EVENTS.c.id > after_id)
    if since_ts is not None:
        query = query.where(RASA_EVENTS.c.timestamp >= since_ts)
    if types is not None:
        query = query.where(RASA_EVENTS.c.type_name.in_(types))
    query = query.order_by(RASA_EVENTS.c.id).limit(limit)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    events = []
    for row in rows:
        try:
            data = json.loads(row.data) if row.data else {}
        except ValueError:
            logger.warning("unreadable tracker event %s skipped", row.id)
            data = {}
        events.append(
            TrackerEvent(int(row.id), str(row.type_name), float(row.timestamp or 0.0), data)
        )
    return events


def latest_session(events: list[TrackerEvent]) -> list[TrackerEvent]:
    """The events of the latest session (after the last session_started or restart)."""
    start = 0
    for index, event in enumerate(events):
        if event.type_name in {"session_started", "restart"}:
            start = index + 1
    return events[start:]


def last_user_messages(engine: Engine, *, after: float, until: float) -> list[tuple[str, float]]:
    """(sender id, time of the last user message) of every conversation whose last user
    message is later than `after` and not later than `until` (epoch seconds)."""
    last = func.max(RASA_EVENTS.c.timestamp).label("last_user")
    query = (
        select(RASA_EVENTS.c.sender_id, last)
        .where(RASA_EVENTS.c.type_name == "user", RASA_EVENTS.c.timestamp > after)
        .group_by(RASA_EVENTS.c.sender_id)
        .having(last <= until)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [(str(row.sender_id), float(row.last_user)) for row in rows]


def has_events_table(engine: Engine) -> bool:
    """Whether Rasa has created its `events` table in this database yet."""
    return bool(inspect(engine).has_table(RASA_EVENTS.name))


def ping_tracker_store(engine: Engine) -> None:
    """Read one row of Rasa's `events` table: proves the tracker store is reachable and that
    Rasa created its table (health checks).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: When the database cannot be reached, or the table is
            missing.
    """
    with engine.connect() as connection:
        connection.execute(select(RASA_EVENTS.c.id).limit(1)).all()
