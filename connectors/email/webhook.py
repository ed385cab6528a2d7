"""`EmailInput`: polls the mailbox, claims each mail once in the shared inbox, and answers
each mail with one reply mail."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import (
    OnNewMessage,
    PayloadStore,
    cap_text,
    mask_id,
    missing_message,
    read_credentials,
)
from connectors.common.replies import record_reply, replies_sent
from connectors.email.attachments import AttachmentStore, default_store
from connectors.email.mailbox import Fetched, ImapSettings, Mailbox
from connectors.email.output import (
    EMAIL,
    EmailConfigError,
    EmailOutput,
    SmtpSettings,
    Thread,
)
from connectors.email.parse import ParsedMail, chosen_number, parse_mail
from connectors.inbox import Inbound, InboxChannel, InboxPolicy

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.security.ratelimit import RateLimiter
    from helpdesk.storage.inbound_messages import InboundMessageRepository


#: The credentials.yml keys and the environment variables `make run` fills them from.
REQUIRED_CREDENTIALS = {
    "imap_host": "EMAIL_IMAP_HOST",
    "imap_user": "EMAIL_IMAP_USER",
    "imap_password": "EMAIL_IMAP_PASSWORD",
    "smtp_host": "EMAIL_SMTP_HOST",
    "address": "EMAIL_ADDRESS",
}
OPTIONAL_CREDENTIALS = {
    "imap_port": "EMAIL_IMAP_PORT",
    "imap_ssl": "EMAIL_IMAP_SSL",
    "mailbox": "EMAIL_MAILBOX",
    "smtp_port": "EMAIL_SMTP_PORT",
    "smtp_user": "EMAIL_SMTP_USER",
    "smtp_password": "EMAIL_SMTP_PASSWORD",
    "smtp_security": "EMAIL_SMTP_SECURITY",
    "sender_name": "EMAIL_SENDER_NAME",
    "poll_seconds": "EMAIL_POLL_SECONDS",
    "max_replies_per_hour": "EMAIL_MAX_REPLIES_PER_HOUR",
}

#: Mails are answered within a day; older unfinished ones are dropped (they stay in the box).
RECOVERY_MAX_AGE = timedelta(hours=24)
#: Handled Message-IDs are remembered this long (a mail marked unseen again is not answered
#: twice within it).
DEDUP_RETENTION = timedelta(days=30)
#: The rate limiter's rule name.
RATE_RULE = "email-replies"


def _flag(value: str, default: bool) -> bool:
    if not value:
        return default
    return value.strip().lower() not in {"0", "false", "no", "off"}


def _number(value: str, default: float, name: str) -> float:
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise EmailConfigError(f"{name} must be a number, not {value!r}") from None
    if number <= 0:
        raise EmailConfigError(f"{name} must be > 0")
    return number


@dataclass(frozen=True)
class PollReport:
    """What one poll did (for logs and tests)."""

    fetched: int = 0
    claimed: int = 0
    duplicates: int = 0
    skipped: int = 0


class EmailInput(InboxChannel):
    """The e-mail channel (see `connectors.email`): `/webhooks/email/` answers the health
    check; the mailbox is polled from the server's start to its stop."""

    output: EmailOutput

    @classmethod
    def name(cls) -> str:
        return EMAIL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """The channel from its credentials.yml block.

        Raises:
            EmailConfigError: Naming every required setting that is missing, or a wrong one.
        """
        values, missing = read_credentials(
            credentials, REQUIRED_CREDENTIALS, OPTIONAL_CREDENTIALS, env_name_keys=True
        )
        if missing:
            raise EmailConfigError(missing_message("E-mail", "connectors/email/", missing))
        imap_ssl = _flag(values["imap_ssl"], True)
        security = (values["smtp_security"] or "starttls").lower()
        imap = ImapSettings(
            host=values["imap_host"],
            port=int(_number(values["imap_port"], 993 if imap_ssl else 143, "imap_port")),
            user=values["imap_user"],
            password=values["imap_password"],
            ssl=imap_ssl,
            mailbox=values["mailbox"] or "INBOX",
        )
        default_smtp_port = {"ssl": 465, "starttls": 587}.get(security, 25)
        smtp = SmtpSettings(
            host=values["smtp_host"],
            port=int(_number(values["smtp_port"], default_smtp_port, "smtp_port")),
            user=values["smtp_user"],
            password=values["smtp_password"],
            security=security,
        )
        return cls(
            imap,
            EmailOutput(smtp, values["address"], sender_name=values["sender_name"]),
            poll_seconds=_number(values["poll_seconds"], 15.0, "poll_seconds"),
            max_replies_per_hour=int(
                _number(values["max_replies_per_hour"], 20, "max_replies_per_hour")
            ),
        )

    def __init__(
        self,
        imap: ImapSettings,
        output: EmailOutput,
        *,
        poll_seconds: float = 15.0,
        max_replies_per_hour: int = 20,
        repository: "InboundMessageRepository" | None = None,
        attachments: AttachmentStore | None = None,
        rate_limiter: "RateLimiter" | None = None,
        recovery_delay: timedelta = timedelta(minutes=1),
        shutdown_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the channel.

        Args:
            imap: The mailbox.
            output: The SMTP side.
            poll_seconds: Seconds between two looks into the mailbox.
            max_replies_per_hour: The most mails of one address answered per hour (the
                rest are marked seen and left for a person): two auto-responders that do
                not mark their mails cannot loop for long.
            repository: Where Message-IDs are claimed (default: the helpdesk services' one).
            attachments: Where attachments are kept (default: the var directory).
            rate_limiter: The shared rate limiter (default: the helpdesk services' one).
            recovery_delay: How long ago an unfinished mail must have been claimed to be
                handled again.
            shutdown_timeout: Seconds the server waits, when stopping, for mails in work.
            clock: Monotonic seconds (the health route's age of the last poll).
        """
        if poll_seconds <= 0 or max_replies_per_hour < 1:
            raise EmailConfigError("poll_seconds must be > 0 and max_replies_per_hour >= 1")
        self.imap = imap
        self.poll_seconds = poll_seconds
        self.max_replies_per_hour = max_replies_per_hour
        self.mailbox = Mailbox(imap)
        self.log = logging.getLogger("connectors.email")
        self._attachments = attachments
        self._rate_limiter = rate_limiter
        self._clock = clock
        self._last_poll: float | None = None
        self._failures = 0
        own = {output.address.lower()}
        if "@" in imap.user:
            own.add(imap.user.lower())
        self.own_addresses = frozenset(own)
        self.open_inbox(
            output,
            log=self.log,
            repository=repository,
            policy=InboxPolicy(
                recovery_delay=recovery_delay,
                max_age=RECOVERY_MAX_AGE,
                retention=DEDUP_RETENTION,
                shutdown_timeout=shutdown_timeout,
            ),
            noun="mail",
            mask=mask_id,
        )

    @property
    def attachments(self) -> AttachmentStore:
        if self._attachments is None:
            self._attachments = default_store()
        return self._attachments

    @property
    def store(self) -> PayloadStore:
        return self.output.store

    # ----------------------------------------------------------------- reading mails

    def _inbound(self, mail: ParsedMail) -> Inbound:
        """The inbox item of a mail that may be answered (blocking: attachments are stored,
        a numbered choice is looked up)."""
        kept = self.attachments.keep(mail.attachments, mail.conversation)
        references = [k.reference for k in kept if k.reference]
        text = mail.text
        number = chosen_number(text)
        if number is not None and mail.in_reply_to:
            payloads = self.output.choices_of(mail.in_reply_to)
            if 1 <= number <= len(payloads):
                text = payloads[number - 1]
        if not text and references:
            text = references[0]  # like a WhatsApp media id: the ticket form takes it
        metadata: dict[str, Any] = {
            "email": {
                "address": mail.sender,
                "subject": mail.subject[:256],
                "message_id": mail.message_id,
                "in_reply_to": mail.in_reply_to,
                "references": list(mail.references[-20:]),
            }
        }
        if mail.reply_to and mail.reply_to != mail.sender:
            metadata["email"]["reply_to"] = mail.reply_to
        if mail.sender_name:
            metadata["name"] = mail.sender_name[:128]
        if kept:
            metadata["attachments"] = [k.as_metadata() for k in kept]
        if references:
            first = next(k for k in kept if k.reference)
            metadata["media"] = {
                "id": first.reference,
                "type": first.content_type,
                "filename": first.filename[:128],
                "count": len(references),
            }
        label = "mail " + hashlib.sha256(mail.message_id.encode()).hexdigest()[:10]
        return Inbound(
            key=mail.claim_key,
            sender=mail.conversation,
            kind="email",
            text=cap_text(text),
            metadata=metadata,
            label=label,
        )

    def _read(self) -> tuple[list[tuple[str, Inbound]], list[str], list[str]]:
        """The new mails (blocking): (uid, item) to claim, UIDs only to mark seen, UIDs to
        mark seen and flagged for a person."""
        items: list[tuple[str, Inbound]] = []
        seen: list[str] = []
        flagged: list[str] = []
        fetched: list[Fetched] = self.mailbox.unseen()
        for mail_data in fetched:
            if mail_data.raw is None:
                self.log.warning("email: a mail of %d bytes is too large; flagged", mail_data.size)
                flagged.append(mail_data.uid)
                continue
            try:
                mail = parse_mail(mail_data.raw, own_addresses=self.own_addresses)
            except Exception as exc:  # the parser should never raise; keep the mail for a person
                self.log.error("email: an unreadable mail (%s); flagged", type(exc).__name__)
                flagged.append(mail_data.uid)
                continue
            if mail.auto_reason is not None:
                self.log.info("email: a mail not answered: %s", mail.auto_reason)
                seen.append(mail_data.uid)
                continue
            if not mail.sender:
                self.log.warning("email: a mail without a readable sender; flagged")
                flagged.append(mail_data.uid)
                continue
            try:
                item = self._inbound(mail)
            except OSError as exc:  # attachments could not be stored: the next poll tries again
                self.log.error("email: could not keep attachments (%s)", type(exc).__name__)
                continue
            if not item.text:
                self.log.info("email: an empty mail from %s; flagged", mask_id(item.sender))
                flagged.append(mail_data.uid)
                continue
            items.append((mail_data.uid, item))
        return items, seen, flagged

    async def poll_once(self, on_new_message: OnNewMessage) -> PollReport:
        """Read the unseen mails, claim them and hand the new ones to Rasa.

        A mail is marked \\Seen only once its claim (or an earlier one) is recorded; when the
        database cannot record claims the mails stay unseen and the next poll tries again.
        """
        items, seen, flagged = await asyncio.to_thread(self._read)
        skipped = len(seen) + len(flagged)
        handler = self._handler(on_new_message)
        accepted = await self.inbox.accept([item for _, item in items], handler)
        done = {i.key for i in accepted.claimed} | {i.key for i in accepted.duplicates}
        if accepted.dropped:  # content the database refuses: a retry would fail the same way
            done = {item.key for _, item in items}
        seen += [uid for uid, item in items if item.key in done]
        await asyncio.to_thread(self._mark, seen, flagged)
        self._last_poll = self._clock()
        return PollReport(
            fetched=len(items) + skipped,
            claimed=len(accepted.claimed),
            duplicates=len(accepted.duplicates),
            skipped=skipped,
        )

    def _mark(self, seen: list[str], flagged: list[str]) -> None:
        self.mailbox.mark_seen(seen)
        self.mailbox.mark_seen(flagged, flagged=True)

    # ----------------------------------------------------------------- answering

    def _allowed(self, address: str) -> bool:
        """Whether another mail of `address` may be answered this hour (blocking)."""
        from helpdesk.security.ratelimit import Rule

        limiter = self._rate_limiter
        if limiter is None:
            from helpdesk.services import get_services

            limiter = get_services().rate_limiter
        rule = Rule(RATE_RULE, self.max_replies_per_hour, 3600)
        try:
            return limiter.hit(rule, address).allowed
        except Exception as exc:  # the database: answer rather than drop a citizen's mail
            self.log.warning("email: could not check the reply rate (%s)", type(exc).__name__)
            return True

    def _handler(self, on_new_message: OnNewMessage) -> OnNewMessage:
        """Rasa's handler for the inbox: one reply mail per mail, sent once.

        The turn's answers are collected (`EmailOutput.open_turn`) and sent as one mail
        when Rasa is done; the mail is recorded in the reply ledger as reply 1 of the
        inbound Message-ID, so a mail handled again after a crash is not answered twice.
        """

        async def handle(message: UserMessage) -> None:
            conversation = message.sender_id
            mail = (message.metadata or {}).get("email") or {}
            address = str(mail.get("address") or "")
            cause = str(message.message_id)
            if not await asyncio.to_thread(self._allowed, address):
                self.log.warning(
                    "email: %s wrote more than %d mails this hour; not answered",
                    mask_id(conversation),
                    self.max_replies_per_hour,
                )
                return
            thread = Thread(
                address=address,
                subject=str(mail.get("subject") or ""),
                in_reply_to=str(mail.get("message_id") or ""),
                references=tuple(str(r) for r in mail.get("references") or ()),
            )
            await self.output.open_turn(conversation, thread)
            message.output_channel = self.output
            try:
                await on_new_message(message)
            except BaseException:
                self.output.cancel_turn(conversation)
                raise
            repository = self.repository
            if 1 in await replies_sent(repository, EMAIL, cause, self.log):
                self.output.cancel_turn(conversation)
                self.log.info("email: the reply to %s went out before; not sent again", cause)
                return
            if await self.output.finish_turn(conversation):
                await record_reply(repository, EMAIL, cause, 1, self.log)

        return handle

    # ----------------------------------------------------------------- polling

    async def poll_forever(self, on_new_message: OnNewMessage) -> None:
        """Poll every `poll_seconds` until cancelled; a failing mailbox is retried with a
        growing pause (at most 5 minutes), its errors logged by type."""
        while True:
            pause = self.poll_seconds
            try:
                await self.poll_once(on_new_message)
                self._failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures += 1
                pause = min(300.0, self.poll_seconds * 2 ** min(self._failures, 8))
                self.log.error(
                    "email: reading the mailbox failed (%s, %d in a row); next try in %.0f s",
                    type(exc).__name__,
                    self._failures,
                    pause,
                )
                await asyncio.to_thread(self.mailbox.close)
            await asyncio.sleep(pause)

    async def close(self) -> None:
        """Log out of the mailbox once the inbox has stopped (SMTP connects per mail)."""
        await asyncio.to_thread(self.mailbox.close)

    def health(self) -> tuple[int, dict[str, Any]]:
        """The health route's status and body."""
        age = None if self._last_poll is None else round(self._clock() - self._last_poll, 1)
        failing = self._failures > 0
        body = {"status": "failing" if failing else "ok", "last_poll_seconds_ago": age}
        return (503 if failing else 200), body

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """`/` (health); the polling runs from the server's start to its stop."""
        blueprint = Blueprint("email_channel", __name__)
        self.add_inbox_listeners(
            blueprint,
            self._handler(on_new_message),
            background=lambda: self.poll_forever(on_new_message),
        )

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            status, body = self.health()
            return response.json(body, status=status)

        return blueprint
