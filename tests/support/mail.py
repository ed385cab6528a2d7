"""Real local mail servers for the e-mail channel's tests: the project's dovecot
(scripts/mail_servers.py) for IMAP, an aiosmtpd server that keeps what it receives for SMTP,
and mails as citizens' clients write them."""

from __future__ import annotations

import email
import imaplib
import os
import secrets
import threading
import time
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import pytest

from scripts import mail_servers
from scripts.servers import free_port


def mail_server_or_skip() -> mail_servers.Imap:
    """The project's dovecot, started (and installed as root) when needed; skipped only when
    it is missing and cannot be installed (not root)."""
    if mail_servers.dovecot_binary() is None and os.geteuid() != 0:
        pytest.skip(
            "dovecot is missing and this is not root: apt-get install dovecot-imapd "
            "(or run `make mail-deps` as root)"
        )
    return mail_servers.start()


def new_folder(server: mail_servers.Imap) -> str:
    """A new empty mailbox folder of the default user (one per test)."""
    name = f"t{secrets.token_hex(6)}"
    client = imap_login(server)
    try:
        status, _ = client.create(name)
        assert status == "OK"
    finally:
        client.logout()
    return name


def imap_login(server: mail_servers.Imap) -> imaplib.IMAP4:
    client = imaplib.IMAP4(server.host, server.port, timeout=10)
    client.login(server.user, server.password)
    return client


def append(server: mail_servers.Imap, folder: str, raw: bytes) -> None:
    """Put a mail in `folder` with IMAP APPEND (unseen)."""
    client = imap_login(server)
    try:
        status, _ = client.append(folder, None, None, raw)
        assert status == "OK"
    finally:
        client.logout()


def flags(server: mail_servers.Imap, folder: str) -> list[str]:
    """The flags of every mail in `folder`, in order."""
    client = imap_login(server)
    try:
        client.select(folder)
        _, data = client.uid("FETCH", "1:*", "(FLAGS)")
        return [part.decode() for part in data if isinstance(part, bytes) and b"FLAGS" in part]
    finally:
        client.logout()


def citizen_mail(
    text: str,
    *,
    sender: str = "Budi Santoso <budi@contoh.go.id>",
    to: str = "helpdesk@djpb.test",
    subject: str = "Pertanyaan",
    message_id: str | None = None,
    in_reply_to: str = "",
    references: str = "",
    headers: dict[str, str] | None = None,
    attachment: tuple[str, str, bytes] | None = None,
) -> tuple[bytes, str]:
    """A citizen's mail as bytes, and its Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate()
    message["Message-ID"] = message_id or make_msgid(domain="contoh.go.id")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if attachment is not None:
        filename, content_type, data = attachment
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message), str(message["Message-ID"])


class SmtpSink:
    """A local SMTP server (aiosmtpd) that keeps each mail it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.mails: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.refuse_with: str | None = None
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse_with:
            return self.refuse_with
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.mails.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.mails if address in str(m["To"])]

    def wait_for(self, address: str, count: int = 1, timeout: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(
            f"{count} mail(s) to {address} never came; got {len(self.to(address))}"
        )


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content().replace("\r\n", "\n") if part is not None else ""
