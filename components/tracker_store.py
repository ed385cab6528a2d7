"""Rasa's SQL tracker store, keeping each conversation's tracker between its messages.

Rasa's `SQLTrackerStore` reads every event of the session on every message, builds the tracker
again by applying each one, and before saving counts the session's events to know which are
new: the cost of a message grew with the length of the conversation (py-spy, 105-question
conversation: a quarter of the Rasa server's CPU in `retrieve`).

`CachedSQLTrackerStore` is the same store, the same table and rows, with three differences:

- after a message is saved, the tracker stays in memory with the id of the last event it
  wrote. The next `retrieve` of that conversation asks the database for the id of its last
  event (one indexed query) and hands the kept tracker out when that id is unchanged, that
  is when no other process (another Rasa server behind the load balancer, a retention purge,
  an erasure) wrote or removed events since (the retention purge never cuts the session a
  citizen is in, docs/privacy.md, and an erasure removes every event of the conversation).
  With a newer id it reads only the newer events and applies them; anything else (an event
  removed, a new session, an unknown tracker) reads the session from the database as Rasa
  does. The lock store lets one process at a
  time handle a conversation, so a kept tracker is never handed to two messages at once; it
  leaves the cache while a message uses it, and a message that fails before saving leaves
  nothing behind;
- `save` writes the events added since the tracker was read (Rasa counted them with a query);
- trackers are `IncrementalStatesTracker`s, whose past states continue from the previous
  prediction (components/incremental_tracker.py).

The cache holds at most `HELPDESK_TRACKER_CACHE_EVENTS` events (default 100,000: about 65 MB
with their past states, measured at 0.63 KB per event of a 105-question conversation) in the
trackers of the most recently used conversations, each for at most
`HELPDESK_TRACKER_CACHE_SECONDS` (default 900; an idle conversation ends after 5 minutes).
`HELPDESK_TRACKER_CACHE_EVENTS=0` turns it off. Reads across sessions
(`retrieve_full_tracker`: the HTTP API's GET of a tracker) are Rasa's own.

endpoints.yml names this class as the tracker store's `type`.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, List

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from components.incremental_tracker import LAST_ID, STORED, IncrementalStatesTracker
from helpdesk.storage.db import make_engine

logger = logging.getLogger(__name__)

#: Most events kept in memory, over all cached trackers.
DEFAULT_CACHE_EVENTS = 100_000
#: Longest time a tracker is kept without being used.
DEFAULT_CACHE_SECONDS = 900.0


@dataclass
class _Kept:
    tracker: DialogueStateTracker
    last_id: int
    at: float


def _int_setting(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        logger.warning("%s=%r is not a number; using %s", name, raw, default)
        return default


class CachedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that keeps trackers between messages and writes only new events."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (
            None,
            "",
            ":memory:",
        ):
            self._tune_sqlite()
        self.cache_events = int(_int_setting("HELPDESK_TRACKER_CACHE_EVENTS", DEFAULT_CACHE_EVENTS))
        self.cache_seconds = _int_setting("HELPDESK_TRACKER_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._kept_events = 0
        #: How retrievals were served, for tests and the benchmark.
        self.counts = {"kept": 0, "extended": 0, "read": 0}

    def _tune_sqlite(self) -> None:
        """The engine the helpdesk's own SQLite database gets (helpdesk/storage/db.py):
        connections kept open (SQLAlchemy 1.4 opened one per session), WAL journal with
        `synchronous = NORMAL` (a commit no longer waits for the disk twice; a killed process
        loses nothing, a power cut at most the last commits), and a writer waits for
        another's lock."""
        url = self.engine.url.render_as_string(hide_password=False)
        self.engine.dispose()
        self.engine = make_engine(url, future=False)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    # -- trackers of this store ------------------------------------------------------------

    def init_tracker(self, sender_id: str) -> DialogueStateTracker:
        return IncrementalStatesTracker(
            sender_id, self.domain.slots, max_event_history=self.max_event_history
        )

    # -- the cache ---------------------------------------------------------------------------

    def _take(self, sender_id: str) -> _Kept | None:
        kept = self._kept.pop(sender_id, None)
        if kept is not None:
            self._kept_events -= len(kept.tracker.events)
        return kept

    def _keep(self, tracker: DialogueStateTracker, last_id: int) -> None:
        self._take(tracker.sender_id)
        size = len(tracker.events)
        if size > self.cache_events:
            return
        now = time.monotonic()
        self._kept[tracker.sender_id] = _Kept(tracker, last_id, now)
        self._kept_events += size
        while self._kept and (
            self._kept_events > self.cache_events
            or next(iter(self._kept.values())).at < now - self.cache_seconds
        ):
            _, oldest = self._kept.popitem(last=False)
            self._kept_events -= len(oldest.tracker.events)

    def forget(self, sender_id: str | None = None) -> None:
        """Drops the kept tracker of `sender_id` (all of them without one)."""
        if sender_id is None:
            self._kept.clear()
            self._kept_events = 0
        else:
            self._take(sender_id)

    # -- reading -----------------------------------------------------------------------------

    def _last_event_id(self, connection: Any, sender_id: str) -> int | None:
        """The id of the conversation's last event (None without one): one indexed query,
        built once (a new statement on every message cost twice the query's own time)."""
        query = self.__dict__.get("_last_event_query")
        if query is None:
            table = self.SQLEvent.__table__
            query = sa.select(sa.func.max(table.c.id)).where(
                table.c.sender_id == sa.bindparam("sender_id")
            )
            self._last_event_query = query
        return connection.execute(query, {"sender_id": sender_id}).scalar()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the conversation's latest session (Rasa's `retrieve`)."""
        kept = self._take(sender_id)
        last_id = None
        if kept is not None and time.monotonic() - kept.at <= self.cache_seconds:
            with self.engine.connect() as connection:
                last_id = self._last_event_id(connection, sender_id)
            if last_id == kept.last_id:
                self.counts["kept"] += 1
                return kept.tracker
        with self.session_scope() as session:
            if kept is not None and last_id is not None and last_id > kept.last_id:
                tracker = self._extend(session, kept, last_id)
                if tracker is not None:
                    self.counts["extended"] += 1
                    return tracker
            self.counts["read"] += 1
            return self._read(session, sender_id)

    def _extend(self, session: Any, kept: _Kept, last_id: int) -> DialogueStateTracker | None:
        """`kept.tracker` with the events written after it, or None if they start a session."""
        rows = (
            session.query(self.SQLEvent.id, self.SQLEvent.data)
            .filter(
                self.SQLEvent.sender_id == kept.tracker.sender_id,
                self.SQLEvent.id > kept.last_id,
            )
            .order_by(self.SQLEvent.id)
            .all()
        )
        events = [Event.from_parameters(json.loads(data)) for _, data in rows]
        if not rows or rows[-1][0] != last_id or any(_starts_session(e) for e in events):
            return None
        tracker = kept.tracker
        for event in events:
            tracker.update(event)
        setattr(tracker, STORED, len(tracker.events))
        setattr(tracker, LAST_ID, last_id)
        return tracker

    def _read(self, session: Any, sender_id: str) -> DialogueStateTracker | None:
        rows = (
            self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            .with_entities(self.SQLEvent.id, self.SQLEvent.data)
            .all()
        )
        if not self.domain or not rows:
            return None
        tracker = IncrementalStatesTracker.from_dict(
            sender_id, [json.loads(data) for _, data in rows], self.domain.slots
        )
        setattr(tracker, STORED, len(tracker.events))
        setattr(tracker, LAST_ID, rows[-1][0])
        return tracker

    # -- writing -----------------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Writes the tracker's new events; keeps the tracker for its next message."""
        await self.stream_events(tracker)
        stored = getattr(tracker, STORED, None)
        known = stored is not None and stored <= len(tracker.events)
        if known:
            new: List[Event] = list(itertools.islice(tracker.events, stored, None))
        else:
            # A tracker this store did not read: count as Rasa does.
            with self.session_scope() as session:
                new = list(self._additional_events(session, tracker))
        last_id = getattr(tracker, LAST_ID, None)
        if new:
            # One statement for all rows (the ORM inserted them one by one). The lock store
            # lets one process at a time write a conversation: the last id is ours.
            with self.engine.begin() as connection:
                connection.execute(
                    self.SQLEvent.__table__.insert(),
                    [self._row(tracker.sender_id, event) for event in new],
                )
                last_id = self._last_event_id(connection, tracker.sender_id)
        setattr(tracker, STORED, len(tracker.events))
        if last_id is not None:
            setattr(tracker, LAST_ID, last_id)
        # Keep only a tracker equal to what a read of the database would give: one this
        # store read, whose new events start no session (a read returns the latest only).
        if known and last_id is not None and not any(_starts_session(e) for e in new):
            self._keep(tracker, last_id)
        else:
            self._take(tracker.sender_id)
        logger.debug("Tracker with sender_id '%s' stored to database", tracker.sender_id)

    @staticmethod
    def _row(sender_id: str, event: Event) -> Dict[str, Any]:
        """The columns of an event's row, as Rasa's `save` fills them."""
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }


def _starts_session(event: Event) -> bool:
    return isinstance(event, SessionStarted) or (
        isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME
    )


__all__: List[str] = ["CachedSQLTrackerStore"]
