"""CachedSQLTrackerStore: what it gives is what Rasa's SQLTrackerStore reads from the database.

Run on SQLite, and on PostgreSQL with `pytest --db=postgres` (make test-postgres).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.utils.endpoints import read_endpoint_config

from components.incremental_tracker import IncrementalStatesTracker
from components.tracker_store import CachedSQLTrackerStore

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.from_dict({"slots": {"topic": {"type": "text", "mappings": []}}})


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.fixture
def url(db_url: str, tmp_path: Path) -> str:
    """The tracker store's database: a fresh SQLite file, or the test's Postgres database."""
    return f"sqlite:///{tmp_path / 'tracker.db'}" if db_url.startswith("sqlite") else db_url


def store(url: str, **settings: str) -> CachedSQLTrackerStore:
    old = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        return CachedSQLTrackerStore(domain=DOMAIN, host=url)
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def rasa_read(url: str, sender: str) -> list[dict] | None:
    """The session as Rasa's own SQLTrackerStore reads it."""
    tracker = run(SQLTrackerStore(domain=DOMAIN, host=url).retrieve(sender))
    return None if tracker is None else [event.as_dict() for event in tracker.events]


def events_of(tracker: Any) -> list[dict]:
    return [event.as_dict() for event in tracker.events]


def turn(tracker: Any, n: int) -> None:
    tracker.update(UserUttered(f"pertanyaan {n}", {"name": "ask_question", "confidence": 1.0}))
    tracker.update(ActionExecuted("action_answer_faq"))
    tracker.update(BotUttered(f"jawaban {n}"))
    tracker.update(SlotSet("topic", f"topik {n}"))
    tracker.update(ActionExecuted("action_listen"))


def message(cached: CachedSQLTrackerStore, sender: str, n: int) -> Any:
    """One more message of a conversation, as the processor handles it: read, turn, save."""
    tracker = run(cached.retrieve(sender))
    turn(tracker, n)
    run(cached.save(tracker))
    return tracker


def new_conversation(cached: CachedSQLTrackerStore, sender: str) -> Any:
    """A conversation as the processor starts it: created, session started, saved."""
    tracker = run(cached.get_or_create_tracker(sender, append_action_listen=False))
    assert isinstance(tracker, IncrementalStatesTracker)
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    turn(tracker, 0)
    run(cached.save(tracker))
    return tracker


def test_each_message_reads_what_rasa_reads_and_the_kept_tracker_is_reused(url: str) -> None:
    cached = store(url)
    new_conversation(cached, "wa:62811")
    assert cached.counts == {"kept": 0, "extended": 0, "read": 1}  # a new conversation
    for n in range(1, 6):
        tracker = run(cached.retrieve("wa:62811"))
        assert events_of(tracker) == rasa_read(url, "wa:62811")
        turn(tracker, n)
        run(cached.save(tracker))
        assert events_of(tracker) == rasa_read(url, "wa:62811")
    # The first message after the session started is read (a new session is never kept),
    # the next four come from memory.
    assert cached.counts == {"kept": 4, "extended": 0, "read": 2}
    assert cached.counts["kept"] == 4
    assert run(cached.retrieve("wa:62811")).slots["topic"].value == "topik 5"


def test_events_written_by_another_server_are_read_after_the_kept_ones(url: str) -> None:
    mine, other = store(url), store(url)
    new_conversation(mine, "wa:1")
    for n in (1, 2):
        message(mine, "wa:1", n)
    # The next message of the conversation went to the other Rasa server.
    theirs = run(other.retrieve("wa:1"))
    turn(theirs, 3)
    run(other.save(theirs))
    tracker = run(mine.retrieve("wa:1"))
    assert mine.counts["extended"] == 1
    assert events_of(tracker) == rasa_read(url, "wa:1")
    assert tracker.slots["topic"].value == "topik 3"
    turn(tracker, 4)
    run(mine.save(tracker))
    assert events_of(run(other.retrieve("wa:1"))) == rasa_read(url, "wa:1")


def test_a_conversation_erased_or_purged_elsewhere_is_not_served_from_memory(url: str) -> None:
    cached = store(url)
    new_conversation(cached, "wa:erase")
    message(cached, "wa:erase", 1)
    with sa.create_engine(url).begin() as connection:
        connection.execute(sa.text("DELETE FROM events WHERE sender_id = 'wa:erase'"))
    assert run(cached.retrieve("wa:erase")) is None
    # Its last event removed: the last id is older than the kept tracker's, read again.
    # (Retention never cuts the session a citizen is in, docs/privacy.md; an erasure
    # removes every event.)
    new_conversation(cached, "wa:part")
    for n in (1, 2):
        message(cached, "wa:part", n)
    with sa.create_engine(url).begin() as connection:
        last = connection.execute(
            sa.text("SELECT max(id) FROM events WHERE sender_id = 'wa:part'")
        ).scalar()
        connection.execute(sa.text(f"DELETE FROM events WHERE id = {last}"))
    assert events_of(run(cached.retrieve("wa:part"))) == rasa_read(url, "wa:part")


def test_a_message_that_failed_before_saving_leaves_nothing_behind(url: str) -> None:
    cached = store(url)
    new_conversation(cached, "wa:fail")
    message(cached, "wa:fail", 1)
    tracker = run(cached.retrieve("wa:fail"))
    turn(tracker, 2)  # the action server failed: Rasa does not save this turn
    again = run(cached.retrieve("wa:fail"))
    assert again is not tracker
    assert events_of(again) == rasa_read(url, "wa:fail")
    assert "pertanyaan 2" not in str(events_of(again))


def test_a_new_session_is_read_from_the_database_as_rasa_reads_it(url: str) -> None:
    cached = store(url)
    tracker = new_conversation(cached, "wa:sessions")
    tracker = run(cached.retrieve("wa:sessions"))
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    turn(tracker, 1)
    run(cached.save(tracker))
    again = run(cached.retrieve("wa:sessions"))
    assert again is not tracker
    assert events_of(again) == rasa_read(url, "wa:sessions")
    assert "pertanyaan 0" not in str(events_of(again))


def test_the_cache_keeps_at_most_its_budget_of_events(url: str) -> None:
    cached = store(url, HELPDESK_TRACKER_CACHE_EVENTS="20")
    for n in range(4):
        new_conversation(cached, f"wa:{n}")
        tracker = run(cached.retrieve(f"wa:{n}"))
        turn(tracker, 1)
        run(cached.save(tracker))  # 12 events each
    assert cached._kept_events <= 20
    assert list(cached._kept) == ["wa:3"]
    off = store(url, HELPDESK_TRACKER_CACHE_EVENTS="0")
    new_conversation(off, "wa:off")
    for n in (1, 2):
        message(off, "wa:off", n)
    assert off.counts["kept"] == 0 and not off._kept


def test_a_tracker_it_did_not_read_is_saved_as_rasa_saves_it(url: str) -> None:
    cached = store(url)
    new_conversation(cached, "wa:api")
    outsider = IncrementalStatesTracker.from_dict(
        "wa:api", rasa_read(url, "wa:api") or [], DOMAIN.slots
    )
    turn(outsider, 1)
    run(cached.save(outsider))
    assert events_of(outsider) == rasa_read(url, "wa:api")


def test_endpoints_yml_names_this_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("RASA_ACTIONS_TOKEN", "t")
    monkeypatch.setenv("RASA_TRACKER_STORE_URL", "")
    monkeypatch.setenv("RASA_TRACKER_DB", str(tmp_path / "tracker.db"))
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    created = TrackerStore.create(config, DOMAIN)
    inner = getattr(created, "_tracker_store", created)
    assert isinstance(inner, CachedSQLTrackerStore)
    with inner.engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
