"""The retention job on every store (SQLite and Postgres): what is past its period is deleted
or anonymised in batches, the rest - recent records, open handoffs and tickets, the session a
citizen is in - stays; a dry run changes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from helpdesk.privacy.policy import DATA_MAP, RetentionPolicy
from helpdesk.privacy.retention import Retention
from helpdesk.rasa_bridge.events import RASA_EVENTS, _rasa_metadata
from helpdesk.rasa_bridge.retention import TrackerRetention
from helpdesk.storage.models import (
    Broadcast,
    BroadcastRecipient,
    Contact,
    Conversation,
    CsatRating,
    FlowSubmission,
    Handoff,
    HandoffMessage,
    IdleClosure,
    InboundMessage,
    QuestionLog,
    SentReply,
    Ticket,
)
from helpdesk.storage.retention import ANONYMOUS, REDACTED, RetentionRepository

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=800)  # past every default period
NEW = NOW - timedelta(days=1)
NIK = "3201234567890001"
PHONE = "6281234567890"


def seed(session_factory, at: datetime, sender: str, *, open_: bool = False) -> None:
    """One record in every store of the helpdesk database, aged `at`."""
    with session_factory() as session:
        handoff = Handoff(
            sender_id=sender,
            channel="whatsapp",
            status="waiting" if open_ else "resolved",
            name="Siti Aminah",
            question=f"nik saya {NIK}",
            created_at=at,
            updated_at=at,
        )
        session.add(handoff)
        session.flush()
        session.add_all(
            [
                HandoffMessage(
                    handoff_id=handoff.id, text=f"hp {PHONE}", status="sent", created_at=at
                ),
                Ticket(
                    id=f"20240101-{sender[-6:]}",
                    subject=f"Reset akun NIK {NIK}",
                    chronology="kronologi lengkap",
                    attachment="https://contoh.go.id/berkas.pdf",
                    email="siti@contoh.go.id",
                    status="open" if open_ else "closed",
                    sender_id=sender,
                    channel="whatsapp",
                    created_at=at,
                    updated_at=at,
                ),
                QuestionLog(
                    sender_id=sender, question=f"cek nik {NIK}", answered=True, created_at=at
                ),
                CsatRating(sender_id=sender, rating=4, question=f"nik {NIK}", created_at=at),
                Conversation(sender_id=sender, channel="whatsapp", started_at=at),
                Contact(
                    sender_id=sender, channel="whatsapp", name="Siti", notes="x", updated_at=at
                ),
                FlowSubmission(
                    sender_id=sender,
                    flow_id="f",
                    flow_title="F",
                    data=json.dumps({"hp": PHONE}),
                    outcome="menu",
                    created_at=at,
                ),
                IdleClosure(sender_id=sender, last_user_at=at, status="closed", updated_at=at),
                InboundMessage(
                    channel="whatsapp",
                    message_id=f"wamid.{sender}",
                    sender=sender,
                    status="done",
                    payload="{}",
                    received_at=at,
                ),
                SentReply(channel="whatsapp", cause=f"wamid.{sender}", seq=0, sent_at=at),
            ]
        )
        broadcast = Broadcast(
            name="Siaran",
            template_name="t",
            template_language="id",
            status="sending" if open_ else "done",
            created_by="sup",
            created_at=at,
        )
        session.add(broadcast)
        session.flush()
        session.add(
            BroadcastRecipient(
                broadcast_id=broadcast.id,
                phone=sender,
                name="Siti",
                # A recipient still to be sent stays whatever its age.
                status="pending" if open_ else "sent",
                sent_at=None if open_ else at,
            )
        )
        session.commit()


def add_events(engine, sender: str, *stamps_and_kinds: tuple[datetime, str]) -> None:
    _rasa_metadata.create_all(engine)
    rows = []
    for at, kind in stamps_and_kinds:
        action = "action_session_start" if kind == "start" else None
        rows.append(
            {
                "sender_id": sender,
                "type_name": "action" if action else "user",
                "timestamp": at.timestamp(),
                "action_name": action,
                "data": json.dumps({"event": "user", "text": f"nik {NIK}"}),
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(RASA_EVENTS), rows)


def tracker_senders(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(RASA_EVENTS.c.sender_id)).all()
    counts: dict[str, int] = {}
    for (sender,) in rows:
        counts[sender] = counts.get(sender, 0) + 1
    return counts


@pytest.fixture
def retention(session_factory, engine) -> Retention:
    return Retention(
        RetentionPolicy(),
        RetentionRepository(session_factory),
        TrackerRetention(engine),
        clock=lambda: NOW,
    )


def test_everything_past_its_period_goes_and_nothing_else(retention, session_factory, engine):
    seed(session_factory, OLD, "628111")
    seed(session_factory, OLD, "628222", open_=True)
    seed(session_factory, NEW, "628333")
    add_events(engine, "idle-old", (OLD, "start"), (OLD, "user"))
    add_events(engine, "two-sessions", (OLD, "start"), (OLD, "user"), (NEW, "start"), (NEW, "user"))
    add_events(engine, "long-session", (OLD, "start"), (OLD, "user"), (NEW, "user"))

    plan = {line.store: line.count for line in retention.plan()}
    assert plan == {
        "tracker_events": 4,
        "flow_submission": 2,
        "handoff_message": 2,
        "handoff": 1,  # the open one stays
        "ticket": 1,  # the open one stays
        "question_log": 2,
        "csat_rating": 2,
        "conversation": 2,
        "email_attachments": 0,  # no file store given
        "contact": 2,
        "idle_closure": 2,
        "inbound_message": 2,
        "sent_reply": 2,
        "broadcast_recipient": 1,  # the one still to be sent stays
    }
    assert {line.store: line.count for line in retention.plan()} == plan  # a plan changes nothing

    done = {line.store: line.count for line in retention.run(batch=1)}

    assert done == plan
    assert all(line.count == 0 for line in retention.plan())
    assert tracker_senders(engine) == {"two-sessions": 2, "long-session": 3}
    with session_factory() as session:
        assert {c.sender_id for c in session.scalars(select(Contact))} == {"628333"}
        assert session.scalars(select(FlowSubmission.sender_id)).all() == ["628333"]
        tickets = {t.sender_id: t for t in session.scalars(select(Ticket))}
        old = tickets[ANONYMOUS]
        assert (old.email, old.attachment, old.chronology) == (None, None, REDACTED)
        assert NIK not in old.subject and old.status == "closed"
        assert tickets["628222"].email == "siti@contoh.go.id"  # still worked on
        handoffs = {h.sender_id: h for h in session.scalars(select(Handoff))}
        assert handoffs[ANONYMOUS].name is None and handoffs[ANONYMOUS].question is None
        assert handoffs["628222"].name == "Siti Aminah"
        questions = session.scalars(select(QuestionLog)).all()
        assert len(questions) == 3 and sum(q.sender_id == ANONYMOUS for q in questions) == 2
        assert all(NIK not in q.question for q in questions if q.sender_id == ANONYMOUS)
        ratings = session.scalars(select(CsatRating.rating)).all()
        assert ratings == [4, 4, 4]  # the figures stay


def test_a_period_of_zero_keeps_the_store_and_a_batch_limit_leaves_the_rest(
    session_factory, engine
):
    for number in range(5):
        seed(session_factory, OLD, f"62800{number}")
    days = {store.key: store.default_days for store in DATA_MAP}
    days["ticket"] = 0
    retention = Retention(
        RetentionPolicy(days),
        RetentionRepository(session_factory),
        TrackerRetention(engine),  # no events table yet: nothing to do there
        clock=lambda: NOW,
    )
    lines = {line.store: line for line in retention.plan()}
    assert lines["ticket"].count == 0 and lines["ticket"].cutoff is None
    assert lines["tracker_events"].count == 0

    done = {line.store: line.count for line in retention.run(batch=2, max_batches=1)}

    assert done["question_log"] == 2
    assert {line.store: line.count for line in retention.plan()}["question_log"] == 3
    with session_factory() as session:
        assert all(t.sender_id != ANONYMOUS for t in session.scalars(select(Ticket)))


def test_the_job_deletes_old_attachment_files_and_plans_them(session_factory, engine, tmp_path):
    from helpdesk.storage.attachments import AttachmentFiles

    at = {"now": OLD}
    files = AttachmentFiles(tmp_path / "att", clock=lambda: at["now"])
    old = files.put(b"%PDF lama", "lama.pdf", "application/pdf", "a@b.id#000000000001")
    at["now"] = NEW
    new = files.put(b"%PDF baru", "baru.pdf", "application/pdf", "a@b.id#000000000002")
    retention = Retention(
        RetentionPolicy(),
        RetentionRepository(session_factory),
        TrackerRetention(engine),
        attachments=files,
        clock=lambda: NOW,
    )

    assert {line.store: line.count for line in retention.plan()}["email_attachments"] == 1
    assert files.path_of(old) is not None  # a plan changes nothing
    assert {line.store: line.count for line in retention.run()}["email_attachments"] == 1
    assert files.path_of(old) is None and files.path_of(new) is not None


def test_forget_sender_removes_one_conversation(engine):
    add_events(engine, "a", (NEW, "start"), (NEW, "user"))
    add_events(engine, "b", (NEW, "user"))

    assert TrackerRetention(engine).forget_sender("a") == 2
    assert tracker_senders(engine) == {"b": 1}
