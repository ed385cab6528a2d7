"""E-mail end to end: mails put into the project's dovecot (IMAP APPEND) are read by the whole
assistant's e-mail channel, and its replies arrive at a local SMTP server (aiosmtpd).

Starts the real stack (tests/support/stack.py) with the e-mail channel in its credentials, as
`make run` does when EMAIL_IMAP_HOST is set.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from tests.support.mail import (
    SmtpSink,
    append,
    body,
    citizen_mail,
    flags,
    mail_server_or_skip,
    new_folder,
)
from tests.support.stack import DEFAULT_CREDENTIALS, MODEL, Stack

pytestmark = pytest.mark.live

OURS = "helpdesk@djpb.test"
EMAIL_BLOCK = """
connectors.email.EmailInput:
  imap_host: ${EMAIL_IMAP_HOST}
  imap_port: ${EMAIL_IMAP_PORT}
  imap_user: ${EMAIL_IMAP_USER}
  imap_password: ${EMAIL_IMAP_PASSWORD}
  imap_ssl: ${EMAIL_IMAP_SSL}
  mailbox: ${EMAIL_MAILBOX}
  smtp_host: ${EMAIL_SMTP_HOST}
  smtp_port: ${EMAIL_SMTP_PORT}
  smtp_security: ${EMAIL_SMTP_SECURITY}
  address: ${EMAIL_ADDRESS}
  poll_seconds: ${EMAIL_POLL_SECONDS}
"""


@pytest.fixture(scope="module")
def mail() -> Iterator[tuple[Any, str, SmtpSink]]:
    server = mail_server_or_skip()
    folder = new_folder(server)
    sink = SmtpSink().start()
    yield server, folder, sink
    sink.stop()


@pytest.fixture(scope="module")
def stack(mail) -> Iterator[Stack]:
    if not MODEL.is_file():
        pytest.skip("no trained model (make train)")
    server, folder, sink = mail
    env = {
        "EMAIL_IMAP_HOST": server.host,
        "EMAIL_IMAP_PORT": str(server.port),
        "EMAIL_IMAP_USER": server.user,
        "EMAIL_IMAP_PASSWORD": server.password,
        "EMAIL_IMAP_SSL": "false",
        "EMAIL_MAILBOX": folder,
        "EMAIL_SMTP_HOST": "127.0.0.1",
        "EMAIL_SMTP_PORT": str(sink.port),
        "EMAIL_SMTP_SECURITY": "none",
        "EMAIL_ADDRESS": OURS,
        "EMAIL_POLL_SECONDS": "0.5",
    }
    with Stack(rasa=True, env=env, credentials=DEFAULT_CREDENTIALS + EMAIL_BLOCK) as running:
        yield running


def wait_for_mail(sink: SmtpSink, address: str, needle: str, timeout: float = 60) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mails = sink.to(address)
        if any(needle in body(m) for m in mails):
            return mails
        time.sleep(0.2)
    raise AssertionError(
        f"{needle!r} never mailed to {address}: {[body(m) for m in sink.to(address)]}"
    )


def test_a_greeting_gets_one_reply_mail_in_its_thread(stack, mail) -> None:
    server, folder, sink = mail
    citizen = "budi.e2e@contoh.go.id"
    raw, message_id = citizen_mail("halo", sender=f"Budi <{citizen}>", subject="Halo helpdesk")
    append(server, folder, raw)
    [reply] = wait_for_mail(sink, citizen, "Selamat")
    time.sleep(3)  # a second mail for the same turn would have come by now
    assert len(sink.to(citizen)) == 1
    assert reply["Subject"] == "Re: Halo helpdesk"
    assert reply["In-Reply-To"] == message_id
    assert reply["References"].split()[0] == message_id
    assert reply["Auto-Submitted"] == "auto-replied"
    assert all("\\Seen" in line for line in flags(server, folder))


def test_a_question_delivered_twice_is_answered_once(stack, mail) -> None:
    server, folder, sink = mail
    citizen = "siti.e2e@contoh.go.id"
    raw, _ = citizen_mail("apa itu sp2d", sender=citizen, subject="SP2D")
    append(server, folder, raw)
    append(server, folder, raw)  # the same Message-ID again
    wait_for_mail(sink, citizen, "Surat Perintah Pencairan Dana")
    time.sleep(4)
    mails = sink.to(citizen)
    assert len(mails) == 1
    assert body(mails[0]).count("Surat Perintah Pencairan Dana") >= 1


def test_an_auto_reply_gets_no_answer(stack, mail) -> None:
    server, folder, sink = mail
    citizen = "cuti.e2e@contoh.go.id"
    raw, _ = citizen_mail(
        "Saya sedang cuti sampai 10 Juni.",
        sender=citizen,
        subject="Out of office: Re: Halo",
        headers={"Auto-Submitted": "auto-replied"},
    )
    append(server, folder, raw)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all("\\Seen" in f for f in flags(server, folder)):
        time.sleep(0.3)
    assert all("\\Seen" in f for f in flags(server, folder))  # read, and left alone
    time.sleep(3)
    assert sink.to(citizen) == []
