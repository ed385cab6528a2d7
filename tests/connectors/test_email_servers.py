"""The e-mail channel against real local servers: the project's dovecot (IMAP, started by
scripts/mail_servers.py, installed as root when missing) and an aiosmtpd SMTP server.

Rasa is stood in for by a handler that answers through the message's output channel, as
Rasa's processor does; the claims, the reply ledger, the thread records and the rate limiter
are the helpdesk database's (the `services` fixture)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from connectors.email import EmailInput, EmailOutput, ImapSettings, SmtpSettings
from connectors.email.attachments import AttachmentStore
from connectors.email.parse import address_of
from connectors.email.webhook import REQUIRED_CREDENTIALS
from scripts import mail_servers
from tests.support.mail import (
    SmtpSink,
    append,
    body,
    citizen_mail,
    flags,
    mail_server_or_skip,
    new_folder,
)

OURS = "helpdesk@djpb.test"
CITIZEN = "budi@contoh.go.id"


@pytest.fixture(scope="module")
def imap_server() -> mail_servers.Imap:
    return mail_server_or_skip()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


class FakeRasa:
    """Answers each message through its output channel, as Rasa's processor does: a greeting
    and a question with two buttons."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        out = message.output_channel
        await out.send_response(message.sender_id, {"text": f"Anda menulis: {message.text}"})
        await out.send_response(
            message.sender_id,
            {
                "text": "Apakah jawaban ini membantu?",
                "buttons": [
                    {"title": "Ya", "payload": "/affirm"},
                    {"title": "Tidak", "payload": "/deny"},
                ],
            },
        )


def make_channel(
    server: mail_servers.Imap, folder: str, smtp: SmtpSink, tmp_path: Path, repository, **kw
) -> EmailInput:
    output = EmailOutput(
        SmtpSettings("127.0.0.1", smtp.port, security="none"),
        OURS,
        sender_name="Helpdesk DJPb",
        backoff=0.01,
    )
    return EmailInput(
        ImapSettings(server.host, server.port, server.user, server.password, False, folder),
        output,
        repository=repository,
        attachments=AttachmentStore(tmp_path / "att"),
        **kw,
    )


async def poll_and_drain(channel: EmailInput, rasa: FakeRasa) -> Any:
    report = await channel.poll_once(rasa)
    assert await channel.inbox.drain(10)
    return report


async def test_a_mail_gets_one_reply_in_its_thread_and_is_marked_seen(
    imap_server, smtp, tmp_path, services, repository
) -> None:
    folder = new_folder(imap_server)
    raw, message_id = citizen_mail("Apa itu SP2D?\n\nSalam,\nBudi", subject="Tanya SP2D")
    append(imap_server, folder, raw)
    channel = make_channel(imap_server, folder, smtp, tmp_path, repository)
    rasa = FakeRasa()

    report = await poll_and_drain(channel, rasa)

    assert report.claimed == 1
    assert rasa.messages[0].text == "Apa itu SP2D?"
    assert address_of(rasa.messages[0].sender_id) == CITIZEN
    assert rasa.messages[0].metadata["email"]["message_id"] == message_id
    [reply] = smtp.wait_for(CITIZEN)
    assert reply["Subject"] == "Re: Tanya SP2D"
    assert reply["In-Reply-To"] == message_id
    assert message_id in reply["References"]
    assert reply["Auto-Submitted"] == "auto-replied"
    text = body(reply)
    assert "Anda menulis: Apa itu SP2D?" in text
    assert "1. Ya\n2. Tidak" in text
    assert all("\\Seen" in line for line in flags(imap_server, folder))
    # Nothing new: a second poll answers nothing.
    assert (await poll_and_drain(channel, rasa)).fetched == 0
    assert len(smtp.to(CITIZEN)) == 1
    channel.mailbox.close()

    # The citizen answers "2": the button's payload reaches Rasa, in the same conversation.
    answer, _ = citizen_mail(
        "2\n\nOn Mon, Helpdesk wrote:\n> Apakah jawaban ini membantu?",
        subject="Re: Tanya SP2D",
        in_reply_to=str(reply["Message-ID"]),
        references=f"{message_id} {reply['Message-ID']}",
    )
    append(imap_server, folder, answer)
    await poll_and_drain(channel, rasa)
    assert rasa.messages[1].text == "/deny"
    assert rasa.messages[1].sender_id == rasa.messages[0].sender_id
    second = smtp.wait_for(CITIZEN, 2)[1]
    assert second["References"].split()[0] == message_id
    channel.mailbox.close()


async def test_two_servers_reading_one_mailbox_answer_a_mail_once(
    imap_server, smtp, tmp_path, services, repository
) -> None:
    folder = new_folder(imap_server)
    raw, _ = citizen_mail("halo")
    append(imap_server, folder, raw)
    append(imap_server, folder, raw)  # the same Message-ID delivered twice
    first = make_channel(imap_server, folder, smtp, tmp_path, repository)
    second = make_channel(imap_server, folder, smtp, tmp_path, repository)
    rasa = FakeRasa()
    # Both read the mailbox before either marks anything seen.
    read_first, read_second = await asyncio.gather(
        asyncio.to_thread(first._read), asyncio.to_thread(second._read)
    )
    assert len(read_first[0]) == 2 and len(read_second[0]) == 2
    handler_a, handler_b = first._handler(rasa), second._handler(rasa)
    accepted = await asyncio.gather(
        first.inbox.accept([i for _, i in read_first[0]], handler_a),
        second.inbox.accept([i for _, i in read_second[0]], handler_b),
    )
    assert sum(len(a.claimed) for a in accepted) == 1
    assert await first.inbox.drain(10) and await second.inbox.drain(10)
    assert len(rasa.messages) == 1
    assert len(smtp.wait_for(CITIZEN)) == 1
    await asyncio.sleep(0.3)
    assert len(smtp.to(CITIZEN)) == 1
    first.mailbox.close()
    second.mailbox.close()


async def test_automatic_mails_are_marked_seen_and_never_answered(
    imap_server, smtp, tmp_path, services, repository
) -> None:
    folder = new_folder(imap_server)
    auto, _ = citizen_mail("Saya sedang cuti.", headers={"Auto-Submitted": "auto-replied"})
    bounce, _ = citizen_mail("Undeliverable", sender="MAILER-DAEMON@contoh.go.id")
    no_sender, _ = citizen_mail("isi", sender="tanpa alamat")
    for raw in (auto, bounce, no_sender):
        append(imap_server, folder, raw)
    channel = make_channel(imap_server, folder, smtp, tmp_path, repository)
    rasa = FakeRasa()
    report = await poll_and_drain(channel, rasa)
    assert report.fetched == 3 and report.claimed == 0 and report.skipped == 3
    assert rasa.messages == []
    await asyncio.sleep(0.3)
    assert smtp.mails == []
    marks = flags(imap_server, folder)
    assert all("\\Seen" in line for line in marks)
    assert "\\Flagged" in marks[2] and "\\Flagged" not in marks[0]  # a person looks at it
    channel.mailbox.close()


async def test_the_reply_rate_per_address_is_limited(
    imap_server, smtp, tmp_path, services, repository
) -> None:
    folder = new_folder(imap_server)
    for index in range(3):
        raw, _ = citizen_mail(f"pesan {index}")
        append(imap_server, folder, raw)
    channel = make_channel(imap_server, folder, smtp, tmp_path, repository, max_replies_per_hour=2)
    rasa = FakeRasa()
    report = await poll_and_drain(channel, rasa)
    assert report.claimed == 3
    # Three new mails are three conversations, handled side by side: any two are answered.
    assert len(rasa.messages) == 2
    assert {m.text for m in rasa.messages} < {"pesan 0", "pesan 1", "pesan 2"}
    assert len(smtp.wait_for(CITIZEN, 2)) == 2
    channel.mailbox.close()


async def test_an_attachment_becomes_the_media_id_the_ticket_form_takes(
    imap_server, smtp, tmp_path, services, repository
) -> None:
    from helpdesk.conversation.validation import validate_attachment

    folder = new_folder(imap_server)
    raw, _ = citizen_mail(
        "",
        subject="Re: Tiket",
        in_reply_to="<x@djpb.test>",
        attachment=("bukti.pdf", "application/pdf", b"%PDF-1.4 bukti"),
    )
    append(imap_server, folder, raw)
    channel = make_channel(imap_server, folder, smtp, tmp_path, repository)
    rasa = FakeRasa()
    await poll_and_drain(channel, rasa)
    [message] = rasa.messages
    media = message.metadata["media"]
    assert message.text == media["id"] == validate_attachment(message.text)
    stored = channel.attachments.path_of(media["id"])
    assert stored is not None and stored.read_bytes() == b"%PDF-1.4 bukti"
    # the conversation is recorded as its sender (a citizen's erasure and copy find it)
    [listed] = channel.attachments.files.of_sender(message.sender_id)
    assert listed["id"] == media["id"] and listed["filename"] == "bukti.pdf"
    channel.mailbox.close()


async def test_an_agent_reply_outside_a_turn_is_a_mail_in_the_thread(
    imap_server, smtp, tmp_path, services, repository
) -> None:
    folder = new_folder(imap_server)
    raw, message_id = citizen_mail("saya ingin bicara dengan petugas", subject="Bantuan")
    append(imap_server, folder, raw)
    channel = make_channel(imap_server, folder, smtp, tmp_path, repository)
    rasa = FakeRasa()
    await poll_and_drain(channel, rasa)
    conversation = rasa.messages[0].sender_id
    smtp.wait_for(CITIZEN)
    # The desk's worker appends the agent's reply through Rasa, which sends it here.
    reply = {"text": "Halo Pak Budi, saya Rina dari helpdesk.", "handoff_message_id": 77}
    await channel.output.send_response(conversation, reply)
    await channel.output.send_response(conversation, reply)  # sent again: goes out once
    mails = smtp.wait_for(CITIZEN, 2)
    await asyncio.sleep(0.3)
    assert len(smtp.to(CITIZEN)) == 2
    agent = mails[1]
    assert "saya Rina dari helpdesk" in body(agent)
    assert agent["Subject"] == "Re: Bantuan"
    assert agent["In-Reply-To"] == message_id
    channel.mailbox.close()


async def test_a_turn_handled_again_after_a_crash_is_not_answered_twice(
    imap_server, smtp, tmp_path, services, repository
) -> None:
    folder = new_folder(imap_server)
    raw, message_id = citizen_mail("halo")
    append(imap_server, folder, raw)
    channel = make_channel(imap_server, folder, smtp, tmp_path, repository)
    rasa = FakeRasa()
    await poll_and_drain(channel, rasa)
    smtp.wait_for(CITIZEN)
    # The claim is taken over as if its process had died before marking it done.
    item = channel.inbox  # the same inbox: run the handler again for the same message
    await channel._handler(rasa)(rasa.messages[0])
    await asyncio.sleep(0.3)
    assert len(smtp.to(CITIZEN)) == 1
    assert item.repository.replies_sent("email", message_id) == frozenset({1})
    channel.mailbox.close()


async def test_an_unreachable_smtp_server_is_retried_then_logged_without_content(
    imap_server, tmp_path, services, repository, caplog
) -> None:
    folder = new_folder(imap_server)
    raw, _ = citizen_mail("rahasia 1234567890123456")
    append(imap_server, folder, raw)
    sink = SmtpSink()  # never started: the port refuses connections
    channel = make_channel(imap_server, folder, sink, tmp_path, repository)
    rasa = FakeRasa()
    await poll_and_drain(channel, rasa)
    failures = [r for r in caplog.records if "sending a mail" in r.getMessage()]
    assert len(failures) == 3  # three attempts
    assert all("rahasia" not in r.getMessage() and CITIZEN not in r.getMessage() for r in failures)
    assert repository.replies_sent("email", rasa.messages[0].message_id) == frozenset()
    channel.mailbox.close()


def test_from_credentials_names_what_is_missing_and_reads_the_rest() -> None:
    from connectors.email import EmailConfigError

    with pytest.raises(EmailConfigError) as error:
        EmailInput.from_credentials({"imap_host": "imap.contoh.go.id"})
    for key in REQUIRED_CREDENTIALS:
        if key != "imap_host":
            assert key in str(error.value)
    channel = EmailInput.from_credentials(
        {
            "imap_host": "127.0.0.1",
            "imap_user": "helpdesk",
            "imap_password": "pw",
            "imap_ssl": "false",
            "smtp_host": "127.0.0.1",
            "smtp_security": "none",
            "address": OURS,
            "poll_seconds": "2",
        }
    )
    assert isinstance(channel, EmailInput)
    assert (channel.imap.port, channel.imap.ssl) == (143, False)
    assert (channel.output.smtp.port, channel.poll_seconds) == (25, 2.0)


async def test_the_health_route(imap_server, smtp, tmp_path, services, repository) -> None:
    from rasa.core.channels.channel import UserMessage  # noqa: F401 - Rasa's channel module

    folder = new_folder(imap_server)
    channel = make_channel(imap_server, folder, smtp, tmp_path, repository)
    assert channel.health() == (200, {"status": "ok", "last_poll_seconds_ago": None})
    await channel.poll_once(FakeRasa())
    status, payload = channel.health()
    assert status == 200 and payload["last_poll_seconds_ago"] is not None
    channel.mailbox.close()
    broken = make_channel(
        imap_server, "missing-folder", smtp, tmp_path, repository, poll_seconds=0.05
    )
    task = asyncio.get_running_loop().create_task(broken.poll_forever(FakeRasa()))
    await asyncio.sleep(0.3)
    task.cancel()
    assert broken.health()[0] == 503
    _ = timedelta
