"""Broadcasts: the CSV upload, consent, the store's exactly-once rules, the sender against a
scripted platform (accepted, refused, throttled, stopped, unknown outcomes, a crash)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from connectors.whatsapp.payloads import parse_webhook
from connectors.whatsapp.statuses import broadcast_updates
from helpdesk.broadcasts.consent import OPT_IN_INTENT, OPT_OUT_INTENT, consent_intent
from helpdesk.broadcasts.recipients import (
    RecipientFileError,
    normalize_number,
    read_recipients,
)
from helpdesk.broadcasts.sender import BroadcastSender
from helpdesk.broadcasts.service import BroadcastError, BroadcastService
from helpdesk.broadcasts.whatsapp import Outcome, SendResult, classify
from helpdesk.conversation.message_templates import MessageTemplate, TemplateRegistry
from helpdesk.storage.broadcasts import BroadcastRepository
from helpdesk.storage.enums import BroadcastStatus

TEMPLATE = MessageTemplate(
    name="info_layanan",
    language="id",
    category="MARKETING",
    body="Yth. {{1}}, layanan {{2}} kini dibuka. Kirim BERHENTI untuk berhenti.",
    variables=("name", "layanan"),
)
REGISTRY = TemplateRegistry((TEMPLATE,))
NOW = datetime(2026, 12, 8, 2, 0, tzinfo=timezone.utc)


def csv_of(rows: list[str], header: str = "nomor;nama;layanan") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.fixture
def repository(session_factory) -> BroadcastRepository:
    return BroadcastRepository(session_factory)


@pytest.fixture
def service(repository) -> BroadcastService:
    return BroadcastService(repository, lambda: REGISTRY, daily_limit=1000, clock=lambda: NOW)


def make(service: BroadcastService, count: int, *, start: int = 0) -> int:
    rows = [f"0812{n:08d};Warga {n};SP2D" for n in range(start, start + count)]
    upload = service.create(
        name="Uji",
        template_name="info_layanan",
        data=csv_of(rows),
        consent_note="formulir pendaftaran layanan",
        created_by="sup",
    )
    return upload.broadcast.id


# ----------------------------------------------------------------- the upload


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0812-3456-7890", "6281234567890"),
        ("+62 812 3456 7890", "6281234567890"),
        ("6281234567890", "6281234567890"),
        ("81234567890", "6281234567890"),
        ("+65 9123 4567", "6591234567"),
        ("6.28123E+12", None),
        ("0812", None),
        ("nomor", None),
    ],
)
def test_numbers_are_read_in_international_form(raw: str, expected: str | None) -> None:
    assert normalize_number(raw) == expected


def test_an_excel_upload_is_read_with_problems_by_line() -> None:
    data = csv_of(
        ["0812 1111 2222;Budi;SP2D", "bukan nomor;Ani;SAKTI", "+62 812-1111-2222;Budi;SP2D", ""],
        header="\ufeffNo HP;Nama;Layanan",
    ).replace(b"\xef\xbb\xbf", b"")
    listed = read_recipients(("\ufeff".encode() + data), ("name", "layanan"))
    assert [r.phone for r in listed.recipients] == ["6281211112222"]
    assert listed.recipients[0].variables == {"name": "Budi", "layanan": "SP2D"}
    assert [(p.line, p.reason) for p in listed.problems] == [(3, "nomor WhatsApp tidak valid")]
    assert listed.duplicates == 1


def test_an_upload_without_a_variable_column_is_refused() -> None:
    with pytest.raises(RecipientFileError, match="layanan"):
        read_recipients(csv_of(["081211112222;Budi"], header="phone,name"), ("name", "layanan"))
    with pytest.raises(RecipientFileError, match="nomor"):
        read_recipients(b"nama,layanan\nBudi,SP2D\n", ("name",))


def test_rows_that_do_not_fit_the_template_are_left_out(service, repository) -> None:
    upload = service.create(
        name="Uji",
        template_name="info_layanan",
        data=csv_of(["081211112222;Budi;SP2D", "081233334444;Ani;"]),
        consent_note="formulir",
        created_by="sup",
    )
    assert upload.recipients == 1 and upload.problem_count == 1
    assert "layanan" in upload.problems[0].reason
    preview = service.preview(upload.broadcast.id)
    assert preview.messages == [
        ("6281*****2222", "Yth. Budi, layanan SP2D kini dibuka. Kirim BERHENTI untuk berhenti.")
    ]
    assert repository.consent("6281211112222").opted_in_source.startswith("unggahan siaran")


def test_a_broadcast_needs_consent_a_name_and_a_known_template(service) -> None:
    data = csv_of(["081211112222;Budi;SP2D"])
    with pytest.raises(BroadcastError, match="persetujuan"):
        service.create(
            name="x", template_name="info_layanan", data=data, consent_note=" ", created_by="s"
        )
    with pytest.raises(BroadcastError, match="Templat"):
        service.create(name="x", template_name="lain", data=data, consent_note="ok", created_by="s")
    with pytest.raises(BroadcastError, match="nama"):
        service.create(
            name=" ", template_name="info_layanan", data=data, consent_note="ok", created_by="s"
        )


def test_state_changes_follow_the_workflow(service, repository) -> None:
    broadcast_id = make(service, 2)
    with pytest.raises(BroadcastError):
        service.resume(broadcast_id)
    with pytest.raises(BroadcastError, match="masa mendatang"):
        service.schedule(broadcast_id, NOW - timedelta(minutes=1))
    service.schedule(broadcast_id, NOW + timedelta(hours=1))
    assert repository.due(NOW) == []
    assert repository.due(NOW + timedelta(hours=1)) == [broadcast_id]
    service.pause(broadcast_id)
    service.resume(broadcast_id)
    service.cancel(broadcast_id)
    assert service.get(broadcast_id).status == BroadcastStatus.CANCELLED
    with pytest.raises(BroadcastError):
        service.send_now(broadcast_id)


# ----------------------------------------------------------------- consent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("BERHENTI", OPT_OUT_INTENT),
        ("Stop.", OPT_OUT_INTENT),
        ("berhenti berlangganan", OPT_OUT_INTENT),
        ("MULAI", OPT_IN_INTENT),
        ("start", OPT_IN_INTENT),
        ("stop dulu saya mau tanya sp2d", None),
        ("berhentikan pegawai", None),
    ],
)
def test_consent_words_are_whole_messages(text: str, intent: str | None) -> None:
    assert consent_intent(text) == intent


def test_an_opted_out_number_is_never_sent_and_uploads_do_not_undo_it(service, repository) -> None:
    first = make(service, 3)
    assert service.opt_out("6281200000001", "whatsapp")
    assert not service.opt_out("6281200000001", "whatsapp")  # already out
    second = make(service, 3)  # a later upload lists it again
    assert service.preview(second).opted_out == 1
    assert repository.totals(first)["opted_out"] == 1  # waiting recipients skipped at once
    repository.set_status(second, BroadcastStatus.SENDING, allowed_from=[BroadcastStatus.DRAFT])
    claimed = repository.claim(second, 10, NOW)
    assert sorted(r.phone for r in claimed) == ["6281200000000", "6281200000002"]
    assert repository.totals(second)["opted_out"] == 1
    assert not service.opt_in("6281299999999", "whatsapp")  # never opted out: nothing recorded
    assert repository.consent("6281299999999") is None
    assert service.opt_in("6281200000001", "whatsapp")
    assert not service.opted_out("6281200000001")


# ----------------------------------------------------------------- status callbacks


def status_delivery(message_id: str, status: str, key: str | None) -> dict:
    entry = {"id": message_id, "status": status, "timestamp": "1796702400", "recipient_id": "62812"}
    if key:
        entry["biz_opaque_callback_data"] = key
    if status == "failed":
        entry["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
    value = {"metadata": {"phone_number_id": "1"}, "statuses": [entry]}
    return {"entry": [{"changes": [{"field": "messages", "value": value}]}]}


def test_callbacks_move_statuses_forward_only(service, repository) -> None:
    broadcast_id = make(service, 2)
    repository.set_status(
        broadcast_id, BroadcastStatus.SENDING, allowed_from=[BroadcastStatus.DRAFT]
    )
    first, second = repository.claim(broadcast_id, 10, NOW)
    repository.mark_sent(first.id, "wamid.1", NOW)
    for status in ("read", "delivered", "sent"):
        (update,) = broadcast_updates(
            parse_webhook(status_delivery("wamid.1", status, first.callback_key)).status_updates
        )
        assert repository.record_status(
            message_id=update.message_id,
            status=update.status,
            callback_key=update.callback_data,
            at=update.at,
        )
    (row,) = repository.recipients(broadcast_id, status="read")
    assert row.read_at == row.delivered_at == datetime.fromtimestamp(1796702400, tz=timezone.utc)
    # A callback that arrives before the answer (a crash in between) settles the recipient.
    (update,) = parse_webhook(
        status_delivery("wamid.2", "failed", second.callback_key)
    ).status_updates
    assert repository.record_status(
        message_id=update.message_id,
        status=update.status,
        callback_key=update.callback_data,
        error=update.error,
    )
    assert repository.totals(broadcast_id)["failed"] == 1
    assert "131026" in repository.recipients(broadcast_id, status="failed")[0].error
    # Ordinary replies' callbacks are not broadcast callbacks.
    assert (
        broadcast_updates(parse_webhook(status_delivery("wamid.9", "sent", None)).status_updates)
        == []
    )
    assert not repository.record_status(message_id="wamid.9", status="sent")


# ----------------------------------------------------------------- the platform's answers


@pytest.mark.parametrize(
    ("status", "payload", "outcome"),
    [
        (200, {"messages": [{"id": "wamid.X"}]}, Outcome.ACCEPTED),
        (200, {}, Outcome.UNCERTAIN),
        (429, {"error": {"code": 130429}}, Outcome.RETRY),
        (400, {"error": {"code": 131056}}, Outcome.RETRY),
        (401, {"error": {"code": 190}}, Outcome.STOP),
        (400, {"error": {"code": 132001, "message": "template does not exist"}}, Outcome.STOP),
        (400, {"error": {"code": 131026}}, Outcome.REFUSED),
        (500, {"error": {"code": 1}}, Outcome.UNCERTAIN),
        (503, None, Outcome.UNCERTAIN),
    ],
)
def test_answers_are_classified(status: int, payload, outcome: Outcome) -> None:
    assert classify(status, payload).outcome == outcome


class ScriptedPlatform:
    """Answers by recipient number; records each body; can emit status callbacks."""

    def __init__(
        self,
        repository: BroadcastRepository,
        answers: dict[str, list[SendResult]] | None = None,
        callbacks: bool = True,
    ) -> None:
        self.repository = repository
        self.answers = answers or {}
        self.callbacks = callbacks
        self.bodies: list[dict] = []
        self.lock = threading.Lock()

    def send(self, body: dict) -> SendResult:
        with self.lock:
            script = self.answers.get(body["to"])
            result = script.pop(0) if script else None
            if result is None or result.outcome == Outcome.ACCEPTED:
                self.bodies.append(body)
                result = SendResult(Outcome.ACCEPTED, message_id=f"wamid.{len(self.bodies)}")
            elif result.outcome == Outcome.UNCERTAIN and result.message_id == "arrived":
                self.bodies.append(body)  # reached Meta, the answer was lost
                result = SendResult(Outcome.UNCERTAIN)
        if self.callbacks and body in self.bodies:
            self.repository.record_status(
                message_id=f"wamid.cb{id(body)}",
                status="sent",
                callback_key=body.get("biz_opaque_callback_data"),
            )
        return result

    def sent_to(self) -> list[str]:
        return [b["to"] for b in self.bodies]


def sender_for(repository, platform, clock, **kwargs) -> BroadcastSender:
    return BroadcastSender(
        repository,
        lambda: REGISTRY,
        platform,
        rate=1000,
        grace=timedelta(seconds=30),
        clock=clock,
        batch=5,
        **kwargs,
    )


def test_each_recipient_gets_one_message_with_the_template_filled(service, repository) -> None:
    broadcast_id = make(service, 12)
    service.send_now(broadcast_id)
    platform = ScriptedPlatform(repository)
    report = sender_for(repository, platform, lambda: NOW).run_once()
    assert report.sent == 12 and sorted(platform.sent_to()) == sorted(set(platform.sent_to()))
    body = platform.bodies[0]
    assert body["type"] == "template" and body["template"]["name"] == "info_layanan"
    assert body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Warga 0"},
        {"type": "text", "text": "SP2D"},
    ]
    assert body["biz_opaque_callback_data"].startswith("bc:")
    assert service.get(broadcast_id).status == BroadcastStatus.DONE
    assert sender_for(repository, platform, lambda: NOW).run_once().sent == 0  # nothing twice


def test_refused_throttled_and_stopped_answers(service, repository) -> None:
    broadcast_id = make(service, 6)
    service.send_now(broadcast_id)
    platform = ScriptedPlatform(
        repository,
        {
            "6281200000001": [SendResult(Outcome.REFUSED, error="131026: undeliverable")],
            "6281200000002": [SendResult(Outcome.RETRY, retry_after=0.01)],
            "6281200000004": [SendResult(Outcome.STOP, error="190: token expired")],
        },
    )
    sender = sender_for(repository, platform, lambda: NOW, concurrency=1)
    report = sender.run_once()
    assert report.paused == [broadcast_id] and report.failed == 1 and report.retried == 1
    broadcast = service.get(broadcast_id)
    assert broadcast.status == BroadcastStatus.PAUSED and "190" in broadcast.note
    service.resume(broadcast_id)
    sender.run_once()
    assert sorted(platform.sent_to()) == sorted({f"62812000000{n:02d}" for n in (0, 2, 3, 4, 5)})
    assert repository.totals(broadcast_id)["failed"] == 1
    assert service.get(broadcast_id).status == BroadcastStatus.DONE


def test_a_crash_between_claim_and_answer_sends_exactly_once(service, repository) -> None:
    """Claimed recipients whose requests reached the platform are settled by their callbacks;
    those whose requests never left are sent again once later callbacks prove it."""
    broadcast_id = make(service, 10)
    service.send_now(broadcast_id)
    platform = ScriptedPlatform(repository)
    claimed = repository.claim(broadcast_id, 4, NOW)  # the process dies after the claim ...
    for recipient in claimed[:2]:  # ... two requests had reached the platform
        from helpdesk.conversation.message_templates import template_message

        platform.send(
            template_message(
                recipient.phone,
                TEMPLATE,
                {**recipient.variables, "name": recipient.name},
                callback_data=recipient.callback_key,
            )
        )
    later = NOW + timedelta(minutes=5)
    sender = sender_for(repository, platform, lambda: later)
    sender.run_once()  # the others are sent; the two unsent claims wait for proof
    sender.run_once()  # proof arrived (later callbacks): they are sent now
    assert sorted(platform.sent_to()) == sorted(f"62812{n:08d}" for n in range(10))
    assert service.get(broadcast_id).status == BroadcastStatus.DONE


def test_an_unknown_outcome_is_never_sent_twice(service, repository) -> None:
    broadcast_id = make(service, 1)
    service.send_now(broadcast_id)
    platform = ScriptedPlatform(
        repository, {"6281200000000": [SendResult(Outcome.UNCERTAIN)]}, callbacks=False
    )
    clock = [NOW]
    sender = sender_for(repository, platform, lambda: clock[0])
    assert sender.run_once().uncertain == 1
    clock[0] = NOW + timedelta(minutes=10)
    sender.run_once()  # no proof either way: it waits
    assert repository.totals(broadcast_id)["sending"] == 1
    clock[0] = NOW + timedelta(hours=2)
    report = sender.run_once()
    assert report.given_up == 1 and platform.sent_to() == []
    assert service.get(broadcast_id).status == BroadcastStatus.DONE


def test_a_citizens_erasure_removes_their_broadcast_rows_but_keeps_an_opt_out(
    service, repository, session_factory
) -> None:
    from helpdesk.storage.personal_data import PersonalDataRepository

    make(service, 2)
    personal = PersonalDataRepository(session_factory)
    copy = personal.gather("6281200000000")
    assert [row["name"] for row in copy["broadcast_recipient"]] == ["Warga 0"]
    assert copy["broadcast_consent"][0]["opted_in_source"].startswith("unggahan siaran")
    service.opt_out("6281200000001", "whatsapp")
    done = personal.erase("6281200000000")
    assert done["broadcast_recipient"] == 1
    assert repository.consent("6281200000000") is None
    personal.erase("6281200000001")
    kept = repository.consent("6281200000001")
    assert kept.opted_out and kept.opted_in_at is None  # no later upload reaches it
    assert [r.phone for r in repository.iter_recipients(1)] == []


def test_a_platform_that_cannot_be_reached_is_retried_and_a_lost_answer_is_uncertain() -> None:
    import socket

    from helpdesk.broadcasts.whatsapp import CloudApiSender

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = CloudApiSender("t", "1", f"http://127.0.0.1:{port}/v20.0", timeout=2)
    assert refused.send({"to": "62812"}).outcome == Outcome.RETRY

    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v20.0"
        assert CloudApiSender("t", "1", url, timeout=0.5).send({"to": "62812"}).outcome == (
            Outcome.UNCERTAIN
        )
