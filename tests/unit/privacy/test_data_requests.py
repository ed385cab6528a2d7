"""Citizens' data requests: opened once with their legal basis and time limit, answered with a
copy of everything held, or carried out as an erasure across every store once approved and
the conversation is quiet (SQLite and Postgres)."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from helpdesk.privacy.policy import RequestPolicy
from helpdesk.privacy.requests import LEGAL_BASIS, DataRequests, EmailCodes
from helpdesk.rasa_bridge.retention import TrackerRetention
from helpdesk.security.audit import AuditTrail
from helpdesk.storage.attachments import AttachmentFiles
from helpdesk.storage.audit import AuditFilter, AuditRepository
from helpdesk.storage.data_requests import DataRequestRepository, EmailVerificationRepository
from helpdesk.storage.models import (
    Contact,
    Conversation,
    CsatRating,
    FlowSubmission,
    Handoff,
    HandoffMessage,
    QuestionLog,
    Ticket,
)
from helpdesk.storage.personal_data import PersonalDataRepository
from helpdesk.storage.retention import ANONYMOUS
from tests.unit.storage.test_retention import NEW, NIK, add_events, seed, tracker_senders

SENDER = "6281234567890"
OTHER = "6289876543210"


class Clock:
    def __init__(self) -> None:
        self.now = NEW + timedelta(hours=1)

    def __call__(self):
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(session_factory, engine, clock, attachments=None, **policy) -> DataRequests:
    return DataRequests(
        DataRequestRepository(session_factory),
        PersonalDataRepository(session_factory),
        TrackerRetention(engine),
        AuditTrail(AuditRepository(session_factory)),
        RequestPolicy(**policy),
        tz=ZoneInfo("Asia/Jakarta"),
        clock=clock,
        attachments=attachments,
    )


@pytest.fixture
def requests(session_factory, engine, clock) -> DataRequests:
    seed(session_factory, NEW, SENDER)
    seed(session_factory, NEW, OTHER)
    add_events(engine, SENDER, (NEW, "start"), (NEW, "user"))
    add_events(engine, OTHER, (NEW, "start"), (NEW, "user"))
    return make(session_factory, engine, clock)


def test_an_access_request_is_answered_with_everything_held(requests, session_factory) -> None:
    opened = requests.open("access", SENDER, "whatsapp", verified_by="whatsapp")

    assert opened.created and opened.request.status == "approved"  # no approval for access
    assert opened.request.reference.startswith("PD-") and len(opened.request.reference) == 18
    assert opened.request.legal_basis == LEGAL_BASIS["access"]
    assert opened.request.due_at - opened.request.requested_at >= timedelta(days=2, hours=23)
    copy = requests.answer_access(opened.request)

    assert copy is not None
    assert copy["conversations"] == [
        {"at": copy["conversations"][0]["at"], "from": "Anda", "text": f"nik {NIK}"}
    ]
    assert [t["id"] for t in copy["ticket"]] == ["20240101-567890"]
    assert copy["contact"][0]["name"] == "Siti" and copy["flow_submission"][0]["data"]
    json.dumps(copy)  # the copy is JSON
    summary = requests.summary(copy)
    assert "1 tiket" in summary and "Nomor tiket: 20240101-567890" in summary
    assert "Nama yang tercatat: Siti" in summary
    done = requests.repository.get(opened.request.id)
    assert done.status == "completed" and done.outcome["ticket"] == 1
    assert requests.answer_access(opened.request) is None  # answered once
    actions = [r.action for r in requests.audit.repository.walk()]
    assert actions == ["privacy.request.access", "privacy.access.answered"]


def test_an_erasure_waits_for_approval_and_quiet_then_leaves_nothing_of_the_citizen(
    requests, session_factory, engine, clock
) -> None:
    earlier = requests.open("access", SENDER, "whatsapp", verified_by="whatsapp").request
    requests.answer_access(earlier)
    opened = requests.open("erasure", SENDER, "whatsapp", verified_by="whatsapp")
    again = requests.open("erasure", SENDER, "whatsapp", verified_by="whatsapp")
    assert opened.request.status == "pending" and not again.created
    assert again.request.id == opened.request.id

    assert requests.carry_out() == 0  # not approved yet
    with pytest.raises(ValueError):
        requests.decide(opened.request.id, approve=False, by="spv")  # a refusal needs a reason
    assert requests.decide(opened.request.id, approve=True, by="spv").status == "approved"
    assert requests.decide(opened.request.id, approve=True, by="spv") is None  # decided once
    clock.now = NEW + timedelta(minutes=5)
    assert requests.carry_out() == 0  # the conversation is not quiet yet
    clock.now = NEW + timedelta(minutes=11)

    assert requests.carry_out() == 1

    assert tracker_senders(engine) == {OTHER: 2}
    with session_factory() as session:
        for model in (Contact, FlowSubmission, QuestionLog, CsatRating, Conversation, Handoff):
            senders = set(session.scalars(select(model.sender_id)))
            assert SENDER not in senders and OTHER in senders, model.__tablename__
        (ticket,) = [t for t in session.scalars(select(Ticket)) if t.sender_id == ANONYMOUS]
        assert ticket.email is None and NIK not in ticket.subject
        anonymous = session.scalars(select(Handoff).where(Handoff.sender_id == ANONYMOUS)).one()
        assert anonymous.name is None
        messages = session.scalars(select(HandoffMessage.handoff_id)).all()
        assert anonymous.id not in messages and messages
    done = requests.repository.get(opened.request.id)
    assert done.status == "completed" and done.sender_id is None and done.email is None
    assert done.outcome["tracker_events"] == 2 and done.outcome["contact"] == 1
    assert requests.repository.get(earlier.id).sender_id is None  # who asked is forgotten too
    assert done.outcome["data_request"] == 1
    (record,) = requests.audit.repository.search(AuditFilter(action="privacy.erasure.done"))
    assert record.actor == "whatsapp:62812****7890" and SENDER not in record.detail_text
    assert requests.audit.verify().ok


def test_exempt_stores_are_kept_on_erasure(session_factory, engine, clock) -> None:
    seed(session_factory, NEW, SENDER)
    requests = make(
        session_factory, engine, clock, approval=frozenset(), erasure_exempt=frozenset({"ticket"})
    )
    opened = requests.open("erasure", SENDER, "whatsapp", verified_by="whatsapp")
    assert opened.request.status == "approved"

    assert requests.carry_out() == 1  # no tracker events: quiet

    with session_factory() as session:
        (ticket,) = session.scalars(select(Ticket)).all()
        assert ticket.sender_id == SENDER and ticket.email == "siti@contoh.go.id"
        assert session.scalars(select(Contact)).all() == []
    assert requests.repository.get(opened.request.id).outcome["kept:ticket"] == 0


MAILER = "siti@contoh.go.id#0123456789ab"
MAILER_TOO = "budi@contoh.go.id#ba9876543210"


def test_attachment_files_are_in_the_copy_and_erased_with_their_last_sender(
    session_factory, engine, clock, tmp_path
) -> None:
    files = AttachmentFiles(tmp_path / "att", clock=clock)
    shared = files.put(b"%PDF surat", "surat.pdf", "application/pdf", MAILER)
    files.put(b"%PDF surat", "surat.pdf", "application/pdf", MAILER_TOO)
    own = files.put(b"\x89PNG ktp", "ktp.png", "image/png", MAILER)
    requests = make(session_factory, engine, clock, files, approval=frozenset())

    access = requests.open("access", MAILER, "email", verified_by="email").request
    copy = requests.answer_access(access)
    assert copy is not None
    assert {(a["id"], a["filename"], a["type"], a["size"]) for a in copy["email_attachments"]} == {
        (shared, "surat.pdf", "application/pdf", 10),
        (own, "ktp.png", "image/png", 8),
    }
    assert all(a["received_at"] for a in copy["email_attachments"])
    assert "2 lampiran e-mail" in requests.summary(copy)
    assert requests.repository.get(access.id).outcome["email_attachments"] == 2

    erasure = requests.open("erasure", MAILER, "email", verified_by="email").request
    assert requests.carry_out() == 1

    assert requests.repository.get(erasure.id).outcome["email_attachments"] == 2
    assert files.path_of(own) is None  # only this sender sent it
    assert files.path_of(shared) is not None  # another sender sent it too
    assert files.of_sender(MAILER) == [] and len(files.of_sender(MAILER_TOO)) == 1

    erasure = requests.open("erasure", MAILER_TOO, "email", verified_by="email").request
    assert requests.carry_out() == 1
    assert files.path_of(shared) is None


def test_exempt_attachment_files_are_kept_on_erasure(
    session_factory, engine, clock, tmp_path
) -> None:
    files = AttachmentFiles(tmp_path / "att", clock=clock)
    own = files.put(b"%PDF ktp", "ktp.pdf", "application/pdf", MAILER)
    requests = make(
        session_factory,
        engine,
        clock,
        files,
        approval=frozenset(),
        erasure_exempt=frozenset({"email_attachments"}),
    )
    erasure = requests.open("erasure", MAILER, "email", verified_by="email").request
    assert requests.carry_out() == 1

    assert files.path_of(own) is not None
    assert requests.repository.get(erasure.id).outcome["kept:email_attachments"] == 0


def test_a_refused_request_keeps_its_reason(requests) -> None:
    opened = requests.open("erasure", SENDER, "whatsapp", verified_by="whatsapp")

    refused = requests.decide(
        opened.request.id, approve=False, by="spv", note="Dikecualikan: arsip negara"
    )

    assert refused.status == "rejected" and refused.decision_note == "Dikecualikan: arsip negara"
    assert requests.carry_out() == 0


def test_email_codes_verify_once_and_only_so_often(session_factory, clock) -> None:
    sent: list[EmailMessage] = []
    codes = EmailCodes(
        EmailVerificationRepository(session_factory),
        lambda message: sent.append(message) or True,
        mail_from="helpdesk@contoh.go.id",
        clock=clock,
    )
    assert codes.send("web-1", "budi@contoh.go.id")
    code = next(w for w in sent[0].get_content().split() if w.isdigit() and len(w) == 6)

    assert codes.check("web-2", code) is None  # another visitor has no code
    assert codes.check("web-1", "000000" if code != "000000" else "111111") is False
    assert codes.check("web-1", code) == "budi@contoh.go.id"
    assert codes.check("web-1", code) is None  # used
    codes.send("web-1", "budi@contoh.go.id")
    for _ in range(5):
        assert codes.check("web-1", "abcdef") is False
    assert codes.check("web-1", "abcdef") is None  # attempts used up
    assert not EmailCodes(EmailVerificationRepository(session_factory), None, mail_from="x@y").send(
        "web-1", "budi@contoh.go.id"
    )
