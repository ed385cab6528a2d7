"""Repositories against a migrated SQLite file."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from helpdesk.storage.conversations import ConversationRepository
from helpdesk.storage.db import session_scope
from helpdesk.storage.feedback import CsatRepository, QuestionLogRepository
from helpdesk.storage.models import Conversation, CsatRating, QuestionLog
from helpdesk.storage.tickets import DuplicateTicketIdError, TicketRecord, TicketRepository

CREATED = datetime(2026, 4, 14, 2, 0, tzinfo=timezone.utc)


def _add_ticket(repo: TicketRepository, ticket_id: str = "20260414-DBKSWU") -> TicketRecord:
    return repo.add(
        ticket_id=ticket_id,
        subject="SP2D belum cair",
        chronology="Sudah 5 hari SP2D belum masuk rekening.",
        email="budi@contoh.go.id",
        attachment="https://contoh.go.id/bukti.pdf",
        sender_id="6281234567890",
        channel="whatsapp",
        created_at=CREATED,
    )


def test_ticket_add_get_exists(session_factory) -> None:
    repo = TicketRepository(session_factory)
    added = _add_ticket(repo)
    assert isinstance(added, TicketRecord)
    assert repo.exists("20260414-DBKSWU")
    assert not repo.exists("20260414-XXXXXX")
    got = repo.get("20260414-DBKSWU")
    assert got == added
    assert got.status == "open" and got.public_reply is None
    assert got.created_at == CREATED and got.created_at.tzinfo is not None
    assert got.channel == "whatsapp" and got.sender_id == "6281234567890"
    assert repo.get("20260414-XXXXXX") is None


def test_ticket_duplicate_id_raises(session_factory) -> None:
    repo = TicketRepository(session_factory)
    _add_ticket(repo)
    with pytest.raises(DuplicateTicketIdError):
        _add_ticket(repo)


def test_ticket_set_status(session_factory) -> None:
    repo = TicketRepository(session_factory)
    _add_ticket(repo)
    updated = repo.set_status("20260414-DBKSWU", "resolved", public_reply="Sudah cair.")
    assert updated is not None
    assert updated.status == "resolved" and updated.public_reply == "Sudah cair."
    assert updated.updated_at > updated.created_at
    assert repo.get("20260414-DBKSWU").status == "resolved"
    assert repo.set_status("20260414-XXXXXX", "closed") is None
    with pytest.raises(ValueError):
        repo.set_status("20260414-DBKSWU", "lost")


def test_csat_add_and_validation(session_factory) -> None:
    repo = CsatRepository(session_factory)
    repo.add("u1", 5, question="cara reset password sakti", faq_id="sakti-reset-password")
    repo.add("u2", 2, kind="agent")
    for bad in (0, 6, True, 3.5):
        with pytest.raises(ValueError):
            repo.add("u3", bad)
    with pytest.raises(ValueError):
        repo.add("u3", 4, kind="bot")
    with session_scope(session_factory) as session:
        rows = session.execute(select(CsatRating).order_by(CsatRating.id)).scalars().all()
        stored = [(r.sender_id, r.rating, r.kind, r.faq_id) for r in rows]
    assert stored == [("u1", 5, "faq", "sakti-reset-password"), ("u2", 2, "agent", None)]


def test_question_log_and_top_unanswered(session_factory) -> None:
    repo = QuestionLogRepository(session_factory)
    repo.record("u1", "cara daftar domain .id", answered=True, faq_id="domain-daftar", score=0.82)
    for sender, question in [
        ("u1", "jam buka kppn sabtu?"),
        ("u2", "Jam buka KPPN sabtu? "),
        ("u3", "jam buka kppn sabtu?"),
        ("u1", "syarat kpr subsidi"),
        ("u2", "syarat kpr subsidi"),
        ("u4", "harga semen"),
    ]:
        repo.record(sender, question, answered=False, score=0.2)
    top = repo.top_unanswered()
    assert top[0][1] == 3 and top[0][0].lower() == "jam buka kppn sabtu?"
    assert top[1] == ("syarat kpr subsidi", 2)
    assert top[2] == ("harga semen", 1)
    assert repo.top_unanswered(limit=1) == top[:1]
    with session_scope(session_factory) as session:
        answered = session.execute(select(QuestionLog).where(QuestionLog.answered)).scalar_one()
        assert (answered.faq_id, answered.score) == ("domain-daftar", pytest.approx(0.82))
    with pytest.raises(ValueError):
        repo.top_unanswered(limit=0)


def test_conversation_session_start(session_factory) -> None:
    repo = ConversationRepository(session_factory)
    repo.record_session_start("6281234567890", "whatsapp")
    repo.record_session_start("web-1")
    with session_scope(session_factory) as session:
        rows = session.execute(select(Conversation).order_by(Conversation.id)).scalars().all()
        stored = [(r.sender_id, r.channel, r.started_at.tzinfo is not None) for r in rows]
    assert stored == [("6281234567890", "whatsapp", True), ("web-1", None, True)]


def test_question_log_stores_identifiers_masked(session_factory) -> None:
    repo = QuestionLogRepository(session_factory)
    repo.record(
        "u1", "nik saya 3201234567890001 hp 081234567890 email budi@contoh.go.id", answered=False
    )
    (question, _), *_ = repo.top_unanswered()
    for full in ("3201234567890001", "081234567890", "budi@contoh.go.id"):
        assert full not in question
    assert question.startswith("nik saya ")
