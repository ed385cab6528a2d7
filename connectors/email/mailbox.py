"""The mailbox read over IMAP (blocking; the channel calls it through `asyncio.to_thread`)."""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from dataclasses import dataclass

#: Mails larger than this are not fetched: flagged for a person instead.
MAX_MAIL_BYTES = 30 * 1024 * 1024

#: The most mails read in one poll (the rest come at the next one).
BATCH = 50


class MailboxError(Exception):
    """The IMAP server refused a command (the message names the command, never content)."""


@dataclass(frozen=True)
class ImapSettings:
    """Where the citizens' mails are read."""

    host: str
    port: int = 993
    user: str = ""
    password: str = ""
    ssl: bool = True
    mailbox: str = "INBOX"
    timeout: float = 30.0


@dataclass(frozen=True)
class Fetched:
    """One unseen mail: its UID and content (None when it was too large to fetch)."""

    uid: str
    raw: bytes | None
    size: int


_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_UID = re.compile(rb"UID (\d+)")


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Mailbox:
    """One IMAP connection, made on first use and again after a failure."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self._client: imaplib.IMAP4 | None = None

    def _check(self, what: str, answer: tuple[str, list]) -> list:
        status, data = answer
        if status != "OK":
            raise MailboxError(f"IMAP {what} answered {status}")
        return data

    def client(self) -> imaplib.IMAP4:
        """The open connection, with the mailbox selected."""
        if self._client is not None:
            return self._client
        s = self.settings
        if s.ssl:
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                s.host, s.port, ssl_context=ssl.create_default_context(), timeout=s.timeout
            )
        else:
            client = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
        try:
            if s.user:
                self._check("LOGIN", client.login(s.user, s.password))
            self._check("SELECT", client.select(_quoted(s.mailbox)))
        except Exception:
            self._shutdown(client)
            raise
        self._client = client
        return client

    @staticmethod
    def _shutdown(client: imaplib.IMAP4) -> None:
        try:
            client.logout()
        except Exception:  # the connection is gone already
            with contextlib.suppress(Exception):
                client.shutdown()

    def close(self) -> None:
        """Log out (a new connection is made on the next use)."""
        client, self._client = self._client, None
        if client is not None:
            self._shutdown(client)

    def unseen(self, limit: int = BATCH) -> list[Fetched]:
        """The unseen mails, oldest first, at most `limit`; fetched with BODY.PEEK (their
        \\Seen flag is set only by `mark_seen`)."""
        client = self.client()
        client.noop()  # lets the server report mails that arrived since the SELECT
        data = self._check("SEARCH", client.uid("SEARCH", None, "UNSEEN"))
        uids = [uid.decode() for uid in (data[0] or b"").split()][:limit]
        fetched = []
        for uid in uids:
            sizes = self._check("FETCH", client.uid("FETCH", uid, "(RFC822.SIZE)"))
            match = _SIZE.search(b" ".join(p for p in sizes if isinstance(p, bytes)))
            size = int(match.group(1)) if match else 0
            if size > MAX_MAIL_BYTES:
                fetched.append(Fetched(uid, None, size))
                continue
            parts = self._check("FETCH", client.uid("FETCH", uid, "(BODY.PEEK[])"))
            raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) > 1), None)
            if raw is None:  # the mail was expunged in between
                continue
            fetched.append(Fetched(uid, bytes(raw), size or len(raw)))
        return fetched

    def mark_seen(self, uids: list[str], *, flagged: bool = False) -> None:
        """Set \\Seen (and \\Flagged: "a person should look at it") on these mails."""
        if not uids:
            return
        flags = "(\\Seen \\Flagged)" if flagged else "(\\Seen)"
        self._check("STORE", self.client().uid("STORE", ",".join(uids), "+FLAGS", flags))
