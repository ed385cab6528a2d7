"""E-mail notification against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import socket
from datetime import datetime, timezone
from email import policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from helpdesk.conversation.dates import format_datetime_id
from helpdesk.settings import Settings
from helpdesk.storage.db import make_engine, make_session_factory, upgrade
from helpdesk.storage.tickets import TicketRepository
from helpdesk.tickets.notify import EmailNotifier
from helpdesk.tickets.service import TicketDraft, TicketInfo, TicketService

WIB = ZoneInfo("Asia/Jakarta")


class Inbox:
    """aiosmtpd handler that keeps every envelope it receives."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def _settings(port: int, mailbox: str = "helpdesk@kppn.go.id") -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_timeout=5.0,
        mail_from="noreply@kppn.go.id",
        helpdesk_mailbox=mailbox,
    )


def _ticket() -> TicketInfo:
    created = datetime(2026, 4, 14, 6, 30, tzinfo=WIB)
    return TicketInfo(
        id="20260414-DBKSWU",
        subject="SP2D belum cair",
        chronology="Sudah lima hari SP2D belum masuk rekening; mohon dicek.",
        email="budi@contoh.go.id",
        attachment="https://contoh.go.id/bukti.pdf",
        status="open",
        status_label="Diterima, menunggu tindak lanjut",
        public_reply=None,
        created_at=created,
        updated_at=created,
    )


def _parse(envelope) -> email.message.EmailMessage:
    return email.message_from_bytes(envelope.original_content, policy=policy.default)


def test_ticket_created_sends_mailbox_and_citizen_messages(smtp_server) -> None:
    controller, inbox = smtp_server
    assert EmailNotifier(_settings(controller.port)).ticket_created(_ticket()) is True
    assert [e.rcpt_tos for e in inbox.envelopes] == [["helpdesk@kppn.go.id"], ["budi@contoh.go.id"]]
    assert all(e.mail_from == "noreply@kppn.go.id" for e in inbox.envelopes)

    staff, citizen = (_parse(e) for e in inbox.envelopes)
    assert "20260414-DBKSWU" in staff["Subject"]
    assert staff["Reply-To"] == "budi@contoh.go.id"
    staff_body = staff.get_content()
    for value in (
        "20260414-DBKSWU",
        "SP2D belum cair",
        "budi@contoh.go.id",
        "mohon dicek",
        "https://contoh.go.id/bukti.pdf",
        "Diterima, menunggu tindak lanjut",
    ):
        assert value in staff_body

    assert "20260414-DBKSWU" in citizen["Subject"]
    assert citizen["To"] == "budi@contoh.go.id"
    body = citizen.get_content()
    assert "cek status tiket 20260414-DBKSWU" in body
    assert "14 April 2026 pukul 06.30 WIB" in body
    assert citizen.get_content_charset() == "utf-8"


def test_without_mailbox_only_the_citizen_is_mailed(smtp_server) -> None:
    controller, inbox = smtp_server
    assert EmailNotifier(_settings(controller.port, mailbox="")).ticket_created(_ticket())
    assert [e.rcpt_tos for e in inbox.envelopes] == [["budi@contoh.go.id"]]


def test_server_down_returns_false_and_keeps_the_ticket(tmp_path, caplog) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url)
    engine = make_engine(url)
    repository = TicketRepository(make_session_factory(engine))
    notifier = EmailNotifier(_settings(_free_port()))  # nothing listens there

    assert notifier.ticket_created(_ticket()) is False
    info = TicketService(repository, notifier=notifier, tz=WIB).create(
        TicketDraft(
            subject="Lupa password", chronology="Tidak bisa login SAKTI.", email="siti@contoh.go.id"
        )
    )
    assert repository.exists(info.id)
    assert "cannot reach SMTP server" in caplog.text
    assert "Tidak bisa login SAKTI" not in caplog.text  # no message body in logs
    engine.dispose()


def test_format_datetime_id_in_other_zones() -> None:
    moment = datetime(2026, 1, 2, 1, 5, tzinfo=timezone.utc)
    assert format_datetime_id(moment.astimezone(ZoneInfo("Asia/Makassar"))) == (
        "2 Januari 2026 pukul 09.05 WITA"
    )
    assert format_datetime_id(moment.astimezone(ZoneInfo("Asia/Jayapura"))) == (
        "2 Januari 2026 pukul 10.05 WIT"
    )
