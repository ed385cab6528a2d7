"""The agent desk's worker (helpdesk.handoff.worker) and the tracker store reader it uses.

Real `Services` on the migrated temp SQLite database of `tests/conftest.py`; Rasa's tracker
store is a temp SQLite `events` table filled with Rasa-shaped rows; the Rasa HTTP API is a
fake that records its calls, answers from a script and, like the real server, logs what it
sent in the tracker store.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.engine import Engine

from helpdesk.handoff.service import EXPIRED_SUBJECT, LeaveOutcome
from helpdesk.handoff.worker import (
    END_ACTION,
    REPLY_GIVE_UP,
    RESUME_GIVE_UP,
    DeskWorker,
    retry_delay,
    wants_to_leave,
)
from helpdesk.rasa_bridge.events import RASA_EVENTS, TrackerEvent, latest_session, read_events
from helpdesk.services import Services
from helpdesk.settings import Settings
from helpdesk.storage.db import session_scope
from helpdesk.storage.models import DeskUser, Handoff, InboundMessage, utcnow

UTC = timezone.utc
SENDER = "6281234567890"
OTHER = "6289876543210"
LATER = timedelta(minutes=16)


# --- helpers ------------------------------------------------------------------------------


class FakeRasa:
    """The Rasa HTTP API: records calls, answers from scripts (then True), logs what it sent."""

    def __init__(
        self,
        tracker: Engine | None = None,
        send_results: Iterable[bool] = (),
        execute_results: Iterable[bool] = (),
    ) -> None:
        self.tracker = tracker
        self.calls: list[tuple[Any, ...]] = []
        #: The output channel of each call, in the order of `calls` (None: Rasa's "latest").
        self.channels: list[str | None] = []
        self.send_results = list(send_results)
        self.execute_results = list(execute_results)
        self.always_fail = False

    def execute(self, sender_id: str, action: str, channel: str | None = None) -> bool:
        self.calls.append(("execute", sender_id, action))
        self.channels.append(channel)
        ok = self.execute_results.pop(0) if self.execute_results else not self.always_fail
        if ok and self.tracker is not None:
            add_event(self.tracker, sender_id, "action", time.time(), name=action)
        return ok

    def send_bot_message(
        self, sender_id: str, text: str, metadata: dict, channel: str | None = None
    ) -> bool:
        self.calls.append(("send", sender_id, text, metadata))
        self.channels.append(channel)
        ok = self.send_results.pop(0) if self.send_results else not self.always_fail
        if ok and self.tracker is not None:
            add_event(self.tracker, sender_id, "bot", time.time(), text=text, metadata=metadata)
        return ok


def add_event(engine: Engine, sender_id: str, kind: str, stamp: float, **data: Any) -> None:
    """One row of Rasa's `events` table, as the SQL tracker store writes it."""
    body = {"event": kind, "timestamp": stamp, **data}
    with engine.begin() as connection:
        connection.execute(
            RASA_EVENTS.insert().values(
                sender_id=sender_id,
                type_name=kind,
                timestamp=stamp,
                action_name=data.get("name") if kind == "action" else None,
                data=json.dumps(body),
            )
        )


def add_user(engine: Engine, sender_id: str, stamp: float, text: str, intent: str | None = None):
    parse = {"intent": {"name": intent, "confidence": 0.97}, "entities": [], "text": text}
    add_event(engine, sender_id, "user", stamp, text=text, parse_data=parse)


def add_agent(session_factory, username: str, display_name: str, **values: Any) -> int:
    values.setdefault("online", True)
    with session_scope(session_factory) as session:
        user = DeskUser(
            username=username,
            display_name=display_name,
            password_hash="scrypt$unused",
            role="agent",
            active=True,
            **values,
        )
        session.add(user)
        session.flush()
        return int(user.id)


def backdate(session_factory, handoff_id: int, **values: Any) -> None:
    with session_scope(session_factory) as session:
        row = session.get(Handoff, handoff_id)
        for key, value in values.items():
            setattr(row, key, value)


@pytest.fixture
def tracker(tmp_path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    RASA_EVENTS.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def services(session_factory) -> Services:
    settings = dataclasses.replace(Settings(), handoff_timeout_minutes=15.0, smtp_host="")
    return Services(settings, session_factory=session_factory)


@pytest.fixture
def rasa(tracker) -> FakeRasa:
    return FakeRasa(tracker)


class Clock:
    """A clock the test moves forward (the worker's backoff and give-up times read it)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_worker(services, rasa, tracker, offset: timedelta = timedelta(0)) -> DeskWorker:
    return DeskWorker(services, rasa, tracker, interval=30, clock=Clock(utcnow() + offset))


def tick(worker: DeskWorker, seconds: float = 61) -> None:
    """Move the worker's clock past any retry backoff."""
    worker.clock.advance(seconds)  # type: ignore[attr-defined]


@pytest.fixture
def worker(services, rasa, tracker) -> DeskWorker:
    return make_worker(services, rasa, tracker)


def status(services, handoff_id: int) -> str:
    return services.handoffs.get(handoff_id).status


# --- leaving the queue ("batal") ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("batal", "cancel"),
        ("tidak jadi deh", "cancel"),
        ("  Batal ", "nlu_fallback"),
        ("/cancel", None),
    ],
    ids=["intent-and-text", "intent", "text", "payload"],
)
def test_a_waiting_citizen_who_writes_batal_leaves_the_queue(
    services, worker, rasa, tracker, text, intent
):
    since = time.time() - 60
    add_user(tracker, SENDER, since, "saya mau bicara dengan petugas", "handoff")
    handoff = services.handoff.request(SENDER, channel="whatsapp", since_ts=since).handoff
    add_user(tracker, SENDER, since + 10, text, intent)

    report = worker.run_once()

    assert report.cancelled == [handoff.id]
    assert status(services, handoff.id) == "cancelled"
    # The bot resumes the conversation and says the citizen left the queue.
    assert rasa.calls == [("execute", SENDER, END_ACTION)]
    assert report.resumed == [handoff.id]
    assert services.handoffs.get(handoff.id).bot_resumed_at is not None


def test_other_messages_while_waiting_do_not_cancel(services, worker, rasa, tracker):
    since = time.time() - 60
    handoff = services.handoff.request(SENDER, since_ts=since).handoff
    add_user(tracker, SENDER, since + 5, "halo, masih lama?", "greet")
    add_user(tracker, SENDER, since + 6, "batal saja kalau lama", "inform")
    add_event(tracker, SENDER, "bot", since + 7, text="batal", metadata={})

    report = worker.run_once()

    assert report.cancelled == []
    assert status(services, handoff.id) == "waiting"
    assert rasa.calls == []


def test_a_batal_before_the_request_is_ignored(services, worker, rasa, tracker):
    since = time.time() - 60
    add_user(tracker, SENDER, since - 30, "batal", "cancel")  # left a form earlier
    add_user(tracker, SENDER, since, "saya mau bicara dengan petugas", "handoff")
    handoff = services.handoff.request(SENDER, since_ts=since).handoff
    add_user(tracker, OTHER, since + 5, "batal", "cancel")  # another conversation

    report = worker.run_once()

    assert report.cancelled == []
    assert status(services, handoff.id) == "waiting"
    assert rasa.calls == []


def test_without_a_tracker_time_a_batal_before_the_request_is_ignored(
    services, worker, rasa, tracker
):
    add_user(tracker, SENDER, time.time() - 600, "batal", "cancel")
    handoff = services.handoff.request(SENDER).handoff  # since_ts unknown

    assert worker.run_once().cancelled == []
    assert status(services, handoff.id) == "waiting"

    add_user(tracker, SENDER, time.time() + 1, "batal", "cancel")
    assert worker.run_once().cancelled == [handoff.id]


def test_an_assigned_conversation_is_not_cancelled_by_batal(
    services, session_factory, worker, rasa, tracker
):
    agent = add_agent(session_factory, "sari", "Sari Dewi")
    since = time.time() - 60
    handoff = services.handoff.request(SENDER, since_ts=since).handoff
    services.handoff.take(handoff.id, agent, 3)
    add_user(tracker, SENDER, since + 10, "batal", "cancel")

    report = worker.run_once()

    assert report.cancelled == []
    assert (status(services, handoff.id), services.handoffs.get(handoff.id).agent_id) == (
        "assigned",
        agent,
    )
    assert rasa.calls == []


def test_a_batal_the_bot_answered_itself_is_not_cancelled_or_resumed_again(
    services, worker, rasa, tracker
):
    since = time.time() - 60
    add_user(tracker, SENDER, since, "saya mau bicara dengan petugas", "human_handoff")
    handoff = services.handoff.request(SENDER, channel="rest", since_ts=since).handoff
    # action_leave_queue answered "batal" in the same turn: out of the queue, resumed, told.
    add_user(tracker, SENDER, since + 10, "batal", "cancel")
    assert services.handoff.leave_queue(SENDER) is LeaveOutcome.LEFT
    add_event(tracker, SENDER, "action", since + 10.1, name="action_leave_queue")
    add_event(tracker, SENDER, "resume", since + 10.2)
    add_event(tracker, SENDER, "bot", since + 10.3, text="Anda telah keluar dari antrean.")

    for _ in range(3):
        report = worker.run_once()
        assert (report.cancelled, report.resumed) == ([], [])
        tick(worker)

    assert rasa.calls == []  # no second "left the queue" message, no second resume
    record = services.handoffs.get(handoff.id)
    assert (record.status, record.resume_attempts) == ("cancelled", 0)


def test_wants_to_leave_reads_user_events_only():
    def event(kind: str, text: str, intent: str | None = None) -> TrackerEvent:
        data: dict[str, Any] = {"event": kind, "text": text}
        if intent:
            data["parse_data"] = {"intent": {"name": intent}}
        return TrackerEvent(1, kind, 1.0, data)

    assert wants_to_leave(event("user", "BATAL"))
    assert wants_to_leave(event("user", "keluar   antrean"))
    assert wants_to_leave(event("user", "ok", "cancel"))
    assert not wants_to_leave(event("user", "batal dulu", "inform"))
    assert not wants_to_leave(event("bot", "batal", "cancel"))


# --- expiry: a ticket with the transcript, then the bot resumes ----------------------------


def at(hour: int, minute: int) -> float:
    """Epoch seconds of 20 November 2026 at hour:minute WITA."""
    return datetime(2026, 11, 20, hour - 8, minute, tzinfo=UTC).timestamp()


def test_an_overdue_handoff_expires_into_a_ticket_and_the_bot_resumes(services, rasa, tracker):
    add_user(tracker, SENDER, at(9, 0), "sesi sebelumnya", "greet")
    add_event(tracker, SENDER, "session_started", at(9, 20))
    add_event(tracker, SENDER, "action", at(9, 20), name="action_session_start")
    add_user(tracker, SENDER, at(9, 21), "SP2D kami belum cair", "sp2d_status")
    add_event(tracker, SENDER, "bot", at(9, 21), text="Silakan ketik nomor SP2D.", metadata={})
    add_event(tracker, SENDER, "action", at(9, 21), name="action_listen")
    add_user(tracker, SENDER, at(9, 23), "saya mau bicara dengan petugas", "handoff")
    handoff = services.handoff.request(SENDER, channel="whatsapp", since_ts=at(9, 23)).handoff

    assert make_worker(services, rasa, tracker, timedelta(minutes=14)).run_once().expired == []
    assert status(services, handoff.id) == "waiting"

    report = make_worker(services, rasa, tracker, LATER).run_once()

    assert report.expired == [handoff.id]
    assert report.resumed == [handoff.id]
    stored = services.handoffs.get(handoff.id)
    assert stored.status == "expired"
    assert stored.ticket_id
    assert stored.bot_resumed_at is not None
    ticket = services.ticket_repository.get(stored.ticket_id)
    assert ticket.subject == EXPIRED_SUBJECT
    assert ticket.chronology == (
        "[09.21] Warga: SP2D kami belum cair\n"
        "[09.21] Asisten: Silakan ketik nomor SP2D.\n"
        "[09.23] Warga: saya mau bicara dengan petugas"
    )
    assert (ticket.sender_id, ticket.channel) == (SENDER, "whatsapp")
    assert rasa.calls == [("execute", SENDER, END_ACTION)]

    # Nothing more to do on the next pass: no second ticket, no second ending.
    again = make_worker(services, rasa, tracker, LATER).run_once()
    assert not again
    assert rasa.calls == [("execute", SENDER, END_ACTION)]
    assert services.handoffs.get(handoff.id).ticket_id == stored.ticket_id


def test_an_overdue_handoff_goes_to_an_agent_with_room_rather_than_expiring(
    services, session_factory, rasa, tracker
):
    handoff = services.handoff.request(SENDER, since_ts=time.time()).handoff
    agent = add_agent(session_factory, "sari", "Sari Dewi")

    report = make_worker(services, rasa, tracker, LATER).run_once()

    assert (report.expired, report.assigned) == ([], [(handoff.id, agent)])
    assert status(services, handoff.id) == "assigned"


def test_the_ticket_is_kept_when_resuming_fails(services, tracker):
    rasa = FakeRasa(tracker, execute_results=[False])
    handoff = services.handoff.request(SENDER, since_ts=time.time()).handoff
    worker = make_worker(services, rasa, tracker, LATER)

    first = worker.run_once()
    ticket_id = services.handoffs.get(handoff.id).ticket_id
    assert worker.run_once().resumed == []  # backing off
    tick(worker)
    second = worker.run_once()

    assert (first.expired, first.resumed, second.resumed) == ([handoff.id], [], [handoff.id])
    assert ticket_id
    assert services.handoffs.get(handoff.id).ticket_id == ticket_id
    assert rasa.calls == [("execute", SENDER, END_ACTION)] * 2


# --- automatic assignment ---------------------------------------------------------------------


def test_the_worker_assigns_waiting_conversations(services, session_factory, worker, rasa):
    agent = add_agent(session_factory, "sari", "Sari Dewi", max_conversations=1)
    first = services.handoff.request(SENDER).handoff
    second = services.handoff.request(OTHER).handoff
    backdate(session_factory, first.id, created_at=utcnow() - timedelta(minutes=2))

    report = worker.run_once()

    assert report.assigned == [(first.id, agent)]
    assert [status(services, h.id) for h in (first, second)] == ["assigned", "waiting"]
    assert rasa.calls == []


# --- the outbox ----------------------------------------------------------------------------


def assigned_handoff(services, session_factory, sender: str = SENDER, name: str = "Sari Dewi"):
    agent = add_agent(session_factory, name.split()[0].lower(), name)
    handoff = services.handoff.request(sender, channel="whatsapp", since_ts=time.time()).handoff
    services.handoff.take(handoff.id, agent, 3)
    return handoff, agent


def test_replies_are_delivered_with_their_metadata_and_marked_sent(
    services, session_factory, worker, rasa, tracker
):
    handoff, agent = assigned_handoff(services, session_factory)
    first = services.handoff.reply(handoff.id, agent, "Selamat siang, Bapak.")
    second = services.handoff.reply(handoff.id, agent, "SP2D Anda sudah terbit.")

    report = worker.run_once()

    assert report.delivered == [first.id, second.id]
    assert rasa.calls == [
        (
            "send",
            SENDER,
            "Selamat siang, Bapak.",
            {"handoff_message_id": first.id, "handoff_id": handoff.id, "agent": "Sari Dewi"},
        ),
        (
            "send",
            SENDER,
            "SP2D Anda sudah terbit.",
            {"handoff_message_id": second.id, "handoff_id": handoff.id, "agent": "Sari Dewi"},
        ),
    ]
    for message in (first, second):
        stored = services.handoff_messages.get(message.id)
        assert (stored.status, stored.attempts) == ("sent", 0)
        assert stored.sent_at is not None
    assert services.handoff_messages.pending() == []

    assert not worker.run_once()
    assert len(rasa.calls) == 2


def test_a_failed_delivery_is_counted_and_retried(services, session_factory, worker, rasa, tracker):
    handoff, agent = assigned_handoff(services, session_factory)
    message = services.handoff.reply(handoff.id, agent, "Mohon ditunggu.")
    rasa.send_results = [False]

    assert worker.run_once().delivered == []
    stored = services.handoff_messages.get(message.id)
    assert (stored.status, stored.attempts) == ("pending", 1)

    tick(worker, retry_delay(1).total_seconds() - 1)
    assert worker.run_once().delivered == []  # still backing off: not tried again
    tick(worker, 1)
    assert worker.run_once().delivered == [message.id]
    stored = services.handoff_messages.get(message.id)
    assert (stored.status, stored.attempts) == ("sent", 1)
    assert [call[0] for call in rasa.calls] == ["send", "send"]


def test_a_reply_is_retried_with_backoff_and_given_up_after_an_hour(
    services, session_factory, worker, rasa, caplog
):
    caplog.set_level(logging.INFO, logger="helpdesk.handoff.worker")
    handoff, agent = assigned_handoff(services, session_factory)
    message = services.handoff.reply(handoff.id, agent, "Mohon ditunggu.")
    rasa.always_fail = True

    # Down for ten minutes: retried with growing waits (2, 4, 8, then 15 s), never given up.
    for _ in range(600):
        worker.run_once()
        tick(worker, 1)
    tries = len(rasa.calls)
    assert 40 <= tries <= 44  # after 2, 4 and 8 s, then every 15 s: 3 + 586 / 15
    stored = services.handoff_messages.get(message.id)
    assert (stored.status, stored.attempts) == ("pending", tries)

    # Back after ten minutes: delivered at the next try.
    rasa.always_fail = False
    tick(worker, 15)
    assert worker.run_once().delivered == [message.id]

    # Down for longer than REPLY_GIVE_UP: marked failed, logged without the number.
    late = services.handoff.reply(handoff.id, agent, "Masih ada kendala?")
    rasa.always_fail = True
    worker.run_once()
    tick(worker, REPLY_GIVE_UP.total_seconds())
    worker.run_once()
    stored = services.handoff_messages.get(late.id)
    assert (stored.status, stored.sent_at) == ("failed", None)
    assert f"reply {late.id} to *********7890 given up after 2 attempts" in caplog.text
    assert SENDER not in caplog.text


def test_a_reply_already_in_the_tracker_is_not_sent_again(
    services, session_factory, worker, rasa, tracker
):
    handoff, agent = assigned_handoff(services, session_factory)
    sent = services.handoff.reply(handoff.id, agent, "Selamat siang.")
    fresh = services.handoff.reply(handoff.id, agent, "Ada yang bisa dibantu?")
    # The Rasa server logged the first one, then the desk crashed before marking it sent.
    meta = {"handoff_message_id": sent.id, "handoff_id": handoff.id, "agent": "Sari Dewi"}
    add_event(tracker, SENDER, "bot", time.time(), text="Selamat siang.", metadata=meta)
    # Another conversation's message with the id of `fresh` does not count.
    add_event(
        tracker, OTHER, "bot", time.time(), text="x", metadata={"handoff_message_id": fresh.id}
    )

    report = worker.run_once()

    assert report.delivered == [sent.id, fresh.id]
    assert [call[2] for call in rasa.calls] == ["Ada yang bisa dibantu?"]
    assert services.handoff_messages.get(sent.id).status == "sent"
    assert services.handoff_messages.get(fresh.id).status == "sent"


def test_a_later_reply_waits_for_an_earlier_one_that_failed(
    services, session_factory, worker, rasa, tracker
):
    handoff, agent = assigned_handoff(services, session_factory)
    first = services.handoff.reply(handoff.id, agent, "Pertama.")
    second = services.handoff.reply(handoff.id, agent, "Kedua.")
    rasa.send_results = [False]

    assert worker.run_once().delivered == []
    assert services.handoff_messages.get(second.id).status == "pending"
    assert worker.run_once().delivered == []  # the first backs off, the second waits for it

    tick(worker)
    assert worker.run_once().delivered == [first.id, second.id]
    assert [call[2] for call in rasa.calls] == ["Pertama.", "Pertama.", "Kedua."]


def test_a_failure_in_one_conversation_does_not_hold_up_another(
    services, session_factory, worker, rasa, tracker
):
    one, sari = assigned_handoff(services, session_factory, SENDER, "Sari Dewi")
    two, budi = assigned_handoff(services, session_factory, OTHER, "Budi Santoso")
    stuck = services.handoff.reply(one.id, sari, "Untuk Anda.")
    other = services.handoff.reply(two.id, budi, "Untuk yang lain.")
    rasa.send_results = [False]

    assert worker.run_once().delivered == [other.id]
    assert rasa.calls[1] == (
        "send",
        OTHER,
        "Untuk yang lain.",
        {"handoff_message_id": other.id, "handoff_id": two.id, "agent": "Budi Santoso"},
    )
    assert services.handoff_messages.get(stuck.id).status == "pending"


# --- resuming the bot after the end ----------------------------------------------------------


def test_a_resolved_conversation_resumes_after_its_last_reply(
    services, session_factory, worker, rasa, tracker
):
    handoff, agent = assigned_handoff(services, session_factory)
    message = services.handoff.reply(handoff.id, agent, "Sudah kami proses. Terima kasih.")
    assert services.handoff.resolve(handoff.id)
    rasa.send_results = [False]

    first = worker.run_once()

    assert (first.delivered, first.resumed) == ([], [])
    assert [call[0] for call in rasa.calls] == ["send"]
    assert services.handoffs.get(handoff.id).bot_resumed_at is None

    tick(worker)
    second = worker.run_once()

    assert (second.delivered, second.resumed) == ([message.id], [handoff.id])
    assert [call[0] for call in rasa.calls] == ["send", "send", "execute"]
    assert rasa.calls[2] == ("execute", SENDER, END_ACTION)
    assert services.handoffs.get(handoff.id).bot_resumed_at is not None


def test_replies_and_the_ending_go_to_the_channel_of_the_request_not_the_latest(
    services, session_factory, worker, rasa, tracker
):
    # The citizen asked for an officer on WhatsApp; a later message under the same id from
    # another channel (the REST attack of issue 11) must not divert the agent's reply there.
    handoff, agent = assigned_handoff(services, session_factory)
    add_event(tracker, SENDER, "user", time.time(), text="halo", input_channel="rest")
    reply = services.handoff.reply(handoff.id, agent, "Selamat siang, Bapak.")
    assert services.handoff.resolve(handoff.id)

    report = worker.run_once()

    assert (report.delivered, report.resumed) == ([reply.id], [handoff.id])
    assert [call[0] for call in rasa.calls] == ["send", "execute"]
    assert rasa.channels == ["whatsapp", "whatsapp"]


def test_without_a_recorded_channel_replies_go_to_the_latest_one(
    services, session_factory, worker, rasa
):
    agent_id = add_agent(session_factory, "sari", "Sari Dewi")
    handoff = services.handoff.request(SENDER, since_ts=time.time()).handoff  # channel unknown
    services.handoff.take(handoff.id, agent_id, 3)
    services.handoff.reply(handoff.id, agent_id, "Selamat siang.")

    worker.run_once()

    assert rasa.channels == [None]


@pytest.mark.parametrize(("channel", "expected"), [("whatsapp", "whatsapp"), (None, "latest")])
def test_the_rasa_client_names_the_output_channel(channel, expected):
    import responses

    from helpdesk.rasa_bridge.client import RasaClient

    rasa_url = "http://rasa.test:5005"
    with responses.RequestsMock() as mocked:
        for path in ("tracker/events", "execute"):
            mocked.add(responses.POST, f"{rasa_url}/conversations/{SENDER}/{path}", json={})
        client = RasaClient(rasa_url, "s3cret")
        assert client.send_bot_message(SENDER, "Halo", {}, channel=channel)
        assert client.execute(SENDER, END_ACTION, channel=channel)
        sent = [call.request.url for call in mocked.calls]
    assert all(f"output_channel={expected}" in url for url in sent)


def test_a_failed_resume_is_retried_with_backoff_then_given_up_after_a_day(
    services, session_factory, worker, rasa, tracker
):
    handoff, _ = assigned_handoff(services, session_factory)
    services.handoff.resolve(handoff.id)
    rasa.execute_results = [False]

    assert worker.run_once().resumed == []
    stored = services.handoffs.get(handoff.id)
    assert (stored.resume_attempts, stored.bot_resumed_at) == (1, None)
    assert worker.run_once().resumed == []  # backing off
    tick(worker)
    assert worker.run_once().resumed == [handoff.id]
    assert services.handoffs.get(handoff.id).bot_resumed_at is not None

    # Rasa down for an hour: still retried (a pass a minute here, so every pass).
    other, _ = assigned_handoff(services, session_factory, OTHER, "Budi Santoso")
    services.handoff.resolve(other.id)
    rasa.always_fail = True
    for _ in range(60):
        worker.run_once()
        tick(worker, 60)
    calls = rasa.calls.count(("execute", OTHER, END_ACTION))
    assert 55 <= calls <= 60
    assert services.handoffs.get(other.id).resume_attempts == calls

    # After RESUME_GIVE_UP it is left alone.
    tick(worker, RESUME_GIVE_UP.total_seconds())
    worker.run_once()
    assert rasa.calls.count(("execute", OTHER, END_ACTION)) == calls
    assert services.handoffs.get(other.id).bot_resumed_at is None


def test_an_ending_already_in_the_tracker_is_not_run_again(
    services, session_factory, worker, rasa, tracker
):
    handoff, _ = assigned_handoff(services, session_factory)
    services.handoff.resolve(handoff.id)
    ended = services.handoffs.get(handoff.id).ended_at.timestamp()
    add_event(tracker, SENDER, "action", ended + 0.5, name=END_ACTION)

    report = worker.run_once()

    assert report.resumed == [handoff.id]
    assert rasa.calls == []
    assert services.handoffs.get(handoff.id).bot_resumed_at is not None


def test_an_ending_of_an_earlier_handoff_does_not_count(
    services, session_factory, worker, rasa, tracker
):
    add_event(tracker, SENDER, "action", time.time() - 3600, name=END_ACTION)
    handoff, _ = assigned_handoff(services, session_factory)
    services.handoff.resolve(handoff.id)
    add_event(tracker, SENDER, "action", time.time() + 1, name="action_listen")

    assert worker.run_once().resumed == [handoff.id]
    assert rasa.calls == [("execute", SENDER, END_ACTION)]


# --- robustness and the loop -----------------------------------------------------------------


def test_a_pass_without_a_tracker_table_logs_and_goes_on(
    services, session_factory, rasa, tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="helpdesk.handoff.worker")
    empty = create_engine(f"sqlite:///{tmp_path / 'no-tracker.db'}")
    worker = make_worker(services, rasa, empty)
    agent = add_agent(session_factory, "sari", "Sari Dewi")
    handoff = services.handoff.request(SENDER, since_ts=time.time()).handoff

    report = worker.run_once()

    assert report.assigned == [(handoff.id, agent)]
    assert "desk worker step _cancel_leavers failed" in caplog.text
    services.handoff.reply(handoff.id, agent, "Halo")
    services.handoff.resolve(handoff.id)

    again = worker.run_once()  # the reply is not sent blind, the bot not resumed blind

    assert (again.delivered, again.resumed) == ([], [])
    assert rasa.calls == []
    assert "desk worker step _deliver_replies failed" in caplog.text
    empty.dispose()


def test_the_interval_must_be_positive(services, rasa, tracker):
    with pytest.raises(ValueError):
        DeskWorker(services, rasa, tracker, interval=0)


def wait_for(condition, timeout: float = 5.0) -> bool:
    """Poll `condition` until true or `timeout` (generous for a loaded machine; the passes
    under test come in milliseconds, the interval they must not wait for is 30 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_wake_makes_a_started_worker_run_at_once(services, session_factory, rasa, tracker):
    worker = DeskWorker(services, rasa, tracker, interval=30)
    passes: list[Any] = []
    run_once = worker.run_once

    def counting():
        report = run_once()
        passes.append(report)
        return report

    worker.run_once = counting  # type: ignore[method-assign]
    agent = add_agent(session_factory, "sari", "Sari Dewi")
    worker.start()
    try:
        assert wait_for(lambda: len(passes) == 1)
        handoff = services.handoff.request(SENDER).handoff
        time.sleep(0.1)
        assert status(services, handoff.id) == "waiting"  # the next pass is 30 s away

        worker.wake()

        assert wait_for(lambda: status(services, handoff.id) == "assigned")
        assert services.handoffs.get(handoff.id).agent_id == agent
        # The pass is counted when it returns, a moment after it assigned.
        assert wait_for(lambda: len(passes) == 2)
    finally:
        thread = worker._thread
        worker.stop(timeout=5)
    assert thread is not None and not thread.is_alive()  # stop() wakes the 30 s wait


def test_a_worker_can_be_started_again_after_stop(services, session_factory, rasa, tracker):
    worker = DeskWorker(services, rasa, tracker, interval=30)
    worker.start()
    worker.stop(timeout=2)
    agent = add_agent(session_factory, "sari", "Sari Dewi")
    handoff = services.handoff.request(SENDER).handoff

    worker.start()
    try:
        assert wait_for(lambda: status(services, handoff.id) == "assigned")
        assert services.handoffs.get(handoff.id).agent_id == agent
    finally:
        worker.stop(timeout=2)


def test_a_failing_pass_does_not_end_the_loop(services, rasa, tracker):
    worker = DeskWorker(services, rasa, tracker, interval=30)
    passes: list[int] = []

    def flaky():
        passes.append(1)
        if len(passes) == 1:
            raise RuntimeError("database is locked")
        return None

    worker.run_once = flaky  # type: ignore[method-assign]
    worker.start()
    try:
        assert wait_for(lambda: len(passes) == 1)
        worker.wake()
        assert wait_for(lambda: len(passes) == 2)
    finally:
        worker.stop(timeout=2)


# --- reading the tracker store ---------------------------------------------------------------


def test_read_events_filters_by_conversation_row_time_and_type(tracker):
    add_user(tracker, SENDER, 100.0, "halo", "greet")
    add_event(tracker, SENDER, "bot", 101.0, text="Halo juga", metadata={"a": 1})
    add_user(tracker, OTHER, 102.0, "lain", "greet")
    add_event(tracker, SENDER, "action", 103.0, name="action_listen")
    with tracker.begin() as connection:
        connection.execute(
            RASA_EVENTS.insert().values(
                sender_id=SENDER, type_name="user", timestamp=104.0, data="{not json"
            )
        )

    events = read_events(tracker, SENDER)

    assert [(e.id, e.type_name, e.timestamp) for e in events] == [
        (1, "user", 100.0),
        (2, "bot", 101.0),
        (4, "action", 103.0),
        (5, "user", 104.0),
    ]
    assert (events[0].text, events[0].intent, events[1].metadata) == ("halo", "greet", {"a": 1})
    assert (events[3].data, events[3].text, events[3].intent) == ({}, "", None)
    assert events[0].at == datetime.fromtimestamp(100.0, tz=UTC)
    assert events[1].as_rasa_dict()["event"] == "bot"
    assert [e.id for e in read_events(tracker, SENDER, after_id=2)] == [4, 5]
    assert [e.id for e in read_events(tracker, SENDER, since_ts=101.0)] == [2, 4, 5]
    assert [e.id for e in read_events(tracker, SENDER, types=("bot", "action"))] == [2, 4]
    assert [e.id for e in read_events(tracker, SENDER, limit=2)] == [1, 2]
    assert read_events(tracker, "nobody") == []


def test_latest_session_starts_after_the_last_session_start_or_restart(tracker):
    add_user(tracker, SENDER, 1.0, "satu")
    add_event(tracker, SENDER, "session_started", 2.0)
    add_user(tracker, SENDER, 3.0, "dua")
    add_event(tracker, SENDER, "restart", 4.0)
    add_user(tracker, SENDER, 5.0, "tiga")

    events = read_events(tracker, SENDER)

    assert [e.text for e in latest_session(events)] == ["tiga"]
    assert [e.text for e in latest_session(events[:3])] == ["dua"]
    assert latest_session([]) == []
    assert [e.text for e in latest_session(events[:1])] == ["satu"]


def test_tracker_rows_are_read_as_written(tracker):
    add_user(tracker, SENDER, 7.5, "batal", "cancel")
    with tracker.connect() as connection:
        row = connection.execute(select(RASA_EVENTS)).one()
    assert (row.sender_id, row.type_name, row.timestamp) == (SENDER, "user", 7.5)
    assert json.loads(row.data)["parse_data"]["intent"]["name"] == "cancel"


# --- ticket status updates ---------------------------------------------------------------


def make_ticket(services, channel: str | None = "whatsapp", sender: str | None = SENDER) -> str:
    from helpdesk.tickets.service import TicketDraft

    draft = TicketDraft(
        subject="Lupa password SAKTI",
        chronology="Sudah mencoba reset tetapi gagal.",
        email=None if sender else "budi@example.go.id",
        sender_id=sender,
        channel=channel,
    )
    return services.tickets.create(draft).id


def test_a_status_change_is_sent_once_on_the_tickets_channel(services, worker, rasa):
    ticket_id = make_ticket(services, channel="telegram")
    worker.run_once()
    assert rasa.calls == []  # a new ticket: the citizen got the confirmation already
    services.tickets.update_status(ticket_id, "in_progress", "Sedang kami periksa.")
    report = worker.run_once()
    assert report.status_updates == [ticket_id]
    (call,) = rasa.calls
    kind, sender, text, metadata = call
    assert (kind, sender, rasa.channels) == ("send", SENDER, ["telegram"])
    assert f"status tiket {ticket_id} Anda kini: Sedang diproses." in text
    assert "Tanggapan petugas: Sedang kami periksa." in text
    assert metadata["message_template"] == "status_tiket_diperbarui"
    assert (metadata["ticket_number"], metadata["status_label"]) == (ticket_id, "Sedang diproses")
    worker.run_once()
    assert len(rasa.calls) == 1  # told once
    services.tickets.update_status(ticket_id, "resolved")
    worker.run_once()
    assert len(rasa.calls) == 2 and rasa.calls[1][3]["status_label"] == "Selesai"


def test_a_failed_status_update_is_retried_and_not_sent_twice_after_a_crash(
    services, rasa, tracker
):
    ticket_id = make_ticket(services)
    services.tickets.update_status(ticket_id, "resolved")
    rasa.send_results = [False]
    worker = make_worker(services, rasa, tracker)
    worker.run_once()
    worker.run_once()  # within the backoff: not tried again
    assert len(rasa.calls) == 1
    tick(worker)
    worker.run_once()
    assert len(rasa.calls) == 2 and services.ticket_repository.status_updates_due() == []
    # the process died after Rasa sent it and before it was recorded: found in the tracker
    services.ticket_repository.mark_status_notified(ticket_id, "in_progress")
    worker = make_worker(services, rasa, tracker)
    assert worker.run_once().status_updates == [ticket_id]
    assert len(rasa.calls) == 2


def test_status_updates_skip_tickets_without_a_conversation_or_a_push_channel(
    services, worker, rasa
):
    by_mail = make_ticket(services, channel=None, sender=None)
    over_rest = make_ticket(services, channel="rest")
    for ticket_id in (by_mail, over_rest):
        services.tickets.update_status(ticket_id, "closed")
    worker.run_once()
    assert rasa.calls == [] and services.ticket_repository.status_updates_due() == []


def test_a_status_update_rasa_never_takes_is_given_up_after_a_day(services, rasa, tracker):
    ticket_id = make_ticket(services)
    services.tickets.update_status(ticket_id, "resolved")
    rasa.always_fail = True
    worker = make_worker(services, rasa, tracker, offset=timedelta(hours=24, seconds=1))
    worker.run_once()
    assert len(rasa.calls) == 1 and services.ticket_repository.status_updates_due() == []


# --- the platforms' reply windows ---------------------------------------------------------


def wrote(services, sender: str, channel: str, ago: timedelta) -> None:
    """The citizen's last message arrived `ago` (a handled delivery of the shared inbox)."""
    repository = services.inbound_messages
    message_id = f"wamid.{sender}.{ago.total_seconds()}"
    assert repository.claim(channel, message_id, sender)
    repository.mark_done(channel, message_id)
    with session_scope(services.session_factory) as session:
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.message_id == message_id)
            .values(received_at=utcnow() - ago)
        )


@pytest.mark.parametrize(
    ("ago", "sent"), [(timedelta(hours=23), True), (timedelta(hours=25), False)]
)
def test_a_whatsapp_reply_after_the_24_hour_window_is_marked_failed_not_sent(
    services, session_factory, worker, rasa, ago, sent
):
    handoff, agent = assigned_handoff(services, session_factory)
    wrote(services, SENDER, "whatsapp", ago)
    message = services.handoff.reply(handoff.id, agent, "Maaf menunggu lama.")

    report = worker.run_once()

    assert (report.delivered == [message.id]) is sent
    assert (report.outside_window == [message.id]) is not sent
    assert services.handoff_messages.get(message.id).status == ("sent" if sent else "failed")
    assert len(rasa.calls) == (1 if sent else 0)


def test_the_reply_windows_of_each_channel() -> None:
    from helpdesk.handoff.reply_window import agent_reply_allowed, reply_window_notice

    now = utcnow()
    day_and_more = now - timedelta(hours=25)
    week_and_more = now - timedelta(days=8)
    assert not agent_reply_allowed("whatsapp", day_and_more, now)
    assert agent_reply_allowed("messenger", day_and_more, now)  # tagged HUMAN_AGENT
    assert not agent_reply_allowed("instagram", week_and_more, now)
    assert agent_reply_allowed("telegram", week_and_more, now)
    assert agent_reply_allowed("whatsapp", None, now)  # nothing on record: the channel decides
    assert "24 jam" in reply_window_notice("whatsapp", day_and_more, now)
    assert "Messenger" in reply_window_notice("messenger", week_and_more, now)
    assert reply_window_notice("whatsapp", now, now) == ""
