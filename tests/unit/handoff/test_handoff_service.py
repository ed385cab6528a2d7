"""Tests of helpdesk.handoff.service.HandoffService on the shipped office hours and a real
ticket store."""

from __future__ import annotations

import email
import socket
from datetime import datetime
from email import policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from helpdesk.handoff.office_hours_loader import load_office_hours
from helpdesk.handoff.service import OFFLINE_SUBJECT, HandoffService
from helpdesk.handoff.transcript import Turn
from helpdesk.settings import PROJECT_ROOT, Settings
from helpdesk.storage.tickets import TicketRepository
from helpdesk.tickets.notify import EmailNotifier
from helpdesk.tickets.service import TicketService, TicketValidationError

WITA = ZoneInfo("Asia/Makassar")
WIB = ZoneInfo("Asia/Jakarta")
OFFICE_HOURS = load_office_hours(PROJECT_ROOT / "helpdesk" / "office_hours.yml")
FRIDAY_CLOSED = datetime(2026, 11, 20, 11, 31, tzinfo=WITA)
TURNS = [
    Turn("user", "SP2D kami belum cair", datetime(2026, 11, 20, 11, 29, tzinfo=WITA)),
    Turn("bot", "Silakan ketik nomor SP2D.", datetime(2026, 11, 20, 11, 29, tzinfo=WITA)),
    Turn("user", "saya mau bicara dengan petugas", datetime(2026, 11, 20, 11, 31, tzinfo=WITA)),
]


def service(session_factory, notifier=None) -> HandoffService:
    tickets = TicketService(TicketRepository(session_factory), notifier=notifier, tz=WIB)
    return HandoffService(OFFICE_HOURS, tickets)


def test_is_open_follows_the_office_hours(session_factory):
    handoff = service(session_factory)
    assert handoff.is_open(datetime(2026, 11, 20, 11, 29, tzinfo=WITA))
    assert not handoff.is_open(FRIDAY_CLOSED)
    with pytest.raises(ValueError):
        handoff.is_open(datetime(2026, 11, 20, 11, 29))


def test_record_offline_keeps_the_transcript_as_a_ticket(session_factory):
    reply = service(session_factory).record_offline(
        FRIDAY_CLOSED, TURNS, sender_id="6281234567890", channel="whatsapp"
    )

    assert reply.hours == "Senin-Kamis 08.00-16.00 WITA, Jumat 08.00-11.30 WITA"
    assert reply.next_opening == "Senin, 23 November 2026 pukul 08.00 WITA"
    stored = TicketRepository(session_factory).get(reply.ticket.id)
    assert stored.subject == OFFLINE_SUBJECT
    assert stored.chronology == (
        "[11.29] Warga: SP2D kami belum cair\n"
        "[11.29] Asisten: Silakan ketik nomor SP2D.\n"
        "[11.31] Warga: saya mau bicara dengan petugas"
    )
    assert (stored.email, stored.sender_id, stored.channel) == (None, "6281234567890", "whatsapp")


def test_record_offline_keeps_an_e_mail_when_one_is_given(session_factory):
    reply = service(session_factory).record_offline(
        FRIDAY_CLOSED, TURNS, sender_id="web-1", channel="socketio", email="Budi@Contoh.GO.ID"
    )

    assert reply.ticket.email == "Budi@contoh.go.id"


def test_without_a_sender_or_an_e_mail_no_ticket_can_be_made(session_factory):
    with pytest.raises(TicketValidationError) as error:
        service(session_factory).record_offline(FRIDAY_CLOSED, TURNS, sender_id="", channel=None)

    assert error.value.field == "email"


# --- with e-mail notification: the helpdesk is told, the citizen has no address ------------


class Inbox:
    """aiosmtpd handler that keeps every envelope it receives."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_inbox():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


def test_an_offline_ticket_is_mailed_to_the_helpdesk_only(session_factory, smtp_inbox):
    port, inbox = smtp_inbox
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_timeout=5.0,
        mail_from="noreply@kppn.go.id",
        helpdesk_mailbox="helpdesk@kppn.go.id",
    )

    reply = service(session_factory, EmailNotifier(settings)).record_offline(
        FRIDAY_CLOSED, TURNS, sender_id="6281234567890", channel="whatsapp"
    )

    (envelope,) = inbox.envelopes
    assert envelope.rcpt_tos == ["helpdesk@kppn.go.id"]
    message = email.message_from_bytes(envelope.original_content, policy=policy.default)
    # (Python folds this long subject onto a continuation line: compare it unfolded.)
    assert message["Subject"].strip() == f"[Tiket {reply.ticket.id}] {OFFLINE_SUBJECT}"
    assert message["Reply-To"] is None
    body = message.get_content()
    assert "E-mail      : - (hubungi melalui kanal percakapan)" in body
    assert "[11.31] Warga: saya mau bicara dengan petugas" in body


def test_without_a_mailbox_an_offline_ticket_sends_no_mail(session_factory, smtp_inbox):
    port, inbox = smtp_inbox
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=5.0)

    reply = service(session_factory, EmailNotifier(settings)).record_offline(
        FRIDAY_CLOSED, TURNS, sender_id="6281234567890", channel="whatsapp"
    )

    assert reply.ticket.id
    assert inbox.envelopes == []
