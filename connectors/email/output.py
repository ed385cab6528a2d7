"""`EmailOutput`: the assistant's answers to one mail as one reply mail over SMTP, agents'
replies as mails of their own in the same thread."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Iterable

from rasa.core.channels.channel import OutputChannel
from rasa.shared.exceptions import RasaException

from connectors.common import PayloadStore, ServicesPayloadStore, mask_id, missing_message
from connectors.common.replies import AgentRepliesOnce
from connectors.email.parse import address_of
from connectors.email.render import Part, attach_files, part_of, render_body, reply_mail
from helpdesk.handoff.agent_files import AgentFile
from helpdesk.retry import Backoff, Failure, RetryPolicy, call

#: The channel name.
EMAIL = "email"

#: `smtp_security` values: STARTTLS after connecting, TLS from the start, none (loopback).
SECURITY_MODES = ("starttls", "ssl", "none")

#: What starts the keys of the thread records and the numbered choices in the shared store.
THREAD_KEY = "email-thread:"
CHOICES_KEY = "email-choices:"


class EmailConfigError(RasaException):
    """The e-mail channel is missing settings, or has a wrong one."""


class EmailSendError(Exception):
    """A mail was not sent (raised only when asked to); names the masked recipient."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how replies are sent."""

    host: str
    port: int = 587
    user: str = ""
    password: str = ""
    security: str = "starttls"
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise EmailConfigError(
                f"smtp_security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}"
            )


@dataclass(frozen=True)
class Thread:
    """Where a reply goes: the citizen's address, the subject and the Message-IDs."""

    address: str
    subject: str
    in_reply_to: str = ""
    references: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "address": self.address,
                "subject": self.subject,
                "in_reply_to": self.in_reply_to,
                "references": list(self.references),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, data: str) -> "Thread":
        raw = json.loads(data)
        return cls(
            address=str(raw["address"]),
            subject=str(raw.get("subject") or ""),
            in_reply_to=str(raw.get("in_reply_to") or ""),
            references=tuple(str(ref) for ref in raw.get("references") or ()),
        )


@dataclass
class Turn:
    """The answers collected for one mail, sent together when the turn is over."""

    thread: Thread
    parts: list[Part] = field(default_factory=list)


def store_key(prefix: str, value: str) -> str:
    """A key of the shared store: `prefix` and 40 hex digits of `value`'s SHA-256."""
    return prefix + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:40]


def transient(error: Exception) -> bool:
    """Whether a failed SMTP attempt may succeed later (connection trouble, a 4xx answer)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(
        error, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError, TimeoutError)
    )


def _reason(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__}, SMTP {error.smtp_code}"
    return type(error).__name__


class _MailOutput(OutputChannel):
    """Rasa's answers as `Part`s: collected while a turn is open, else sent at once."""

    @classmethod
    def name(cls) -> str:
        return EMAIL

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.deliver(recipient_id, part_of(message))  # type: ignore[attr-defined]

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, **kwargs})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons, **kwargs})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image, **kwargs})


class EmailOutput(AgentRepliesOnce, _MailOutput):
    """Sends replies over SMTP.

    While the inbox hands a mail to Rasa the channel opens a turn for its conversation
    (`open_turn`): the answers are collected and `finish_turn` sends them as one mail,
    "Re: <subject>", `In-Reply-To` the mail answered, `References` the thread, buttons as a
    numbered list (the numbers' payloads kept in the shared store under the new Message-ID,
    so the reply "2" is understood by whichever process reads it). An answer outside a turn
    (an agent's reply from the desk, the idle sweeper's message) goes out at once as a mail
    of its own in the thread recorded when the conversation started.

    Connection errors, timeouts and 4xx answers are retried with backoff
    (`helpdesk.retry`); failures are logged with the error type and SMTP code, never the
    content, and the recipient masked.
    """

    def __init__(
        self,
        smtp: SmtpSettings,
        address: str,
        *,
        sender_name: str = "",
        attempts: int = 3,
        backoff: float = 1.0,
        store: PayloadStore | None = None,
        raise_on_failure: bool = False,
    ) -> None:
        """Create the output channel.

        Args:
            smtp: The SMTP server.
            address: Our address (From), also the domain of our Message-IDs.
            sender_name: Our display name in From.
            attempts: Attempts per mail in total (>= 1).
            backoff: The first pause between attempts in seconds; it doubles each time.
            store: Where threads and numbered choices are kept for every process (default:
                the helpdesk database).
            raise_on_failure: Raise when a mail could not be sent (tests).
        """
        if not smtp.host or "@" not in address:
            raise EmailConfigError(
                missing_message("E-mail", "connectors/email/", ["smtp_host", "address"])
            )
        self.smtp = smtp
        self.address = address.strip()
        self.sender_name = sender_name.strip()
        self.attempts = attempts
        self.retry_policy = RetryPolicy(attempts, Backoff(backoff))
        self.store: PayloadStore = store or ServicesPayloadStore()
        self.raise_on_failure = raise_on_failure
        self.turns: dict[str, Turn] = {}
        self._log = logging.getLogger("connectors.email")

    # ----------------------------------------------------------------- SMTP

    def _send_once(self, message: EmailMessage) -> None:
        smtp = self.smtp
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        try:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(message)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def send_mail_sync(self, message: EmailMessage) -> bool:
        """Send one mail, retrying transient failures (blocking).

        Returns:
            True when the SMTP server took it.
        """
        recipient = mask_id(str(message.get("To") or ""))

        def on_failure(failure: Failure) -> None:
            self._log.log(
                logging.ERROR if failure.giving_up else logging.WARNING,
                "email: sending a mail to %s failed (%s; attempt %d of %d)%s",
                recipient,
                _reason(failure.error),
                failure.attempt,
                self.attempts,
                "" if failure.giving_up else "; retrying",
            )

        try:
            call(
                lambda: self._send_once(message),
                self.retry_policy,
                retry_on=transient,
                on_failure=on_failure,
            )
            return True
        except (smtplib.SMTPException, OSError):
            if self.raise_on_failure:
                raise
            return False

    async def send_mail(self, message: EmailMessage) -> bool:
        """`send_mail_sync` off the event loop."""
        return await asyncio.to_thread(self.send_mail_sync, message)

    # ----------------------------------------------------------------- the shared store

    def _remember_thread(self, conversation: str, thread: Thread) -> None:
        try:
            self.store.save(store_key(THREAD_KEY, conversation), thread.to_json())
        except Exception as exc:  # the database: agent replies then start a new thread
            self._log.warning("email: could not record a thread (%s)", type(exc).__name__)

    def thread_of(self, conversation: str) -> Thread:
        """The thread recorded when the conversation started (blocking), else a new one."""
        try:
            stored = self.store.get(store_key(THREAD_KEY, conversation))
            if stored:
                return Thread.from_json(stored)
        except Exception as exc:
            self._log.warning("email: could not read a thread (%s)", type(exc).__name__)
        return Thread(address=address_of(conversation), subject="")

    def choices_of(self, message_id: str) -> list[str]:
        """The payloads of the numbered choices of a mail we sent (blocking); [] when none."""
        try:
            stored = self.store.get(store_key(CHOICES_KEY, message_id))
        except Exception as exc:
            self._log.warning("email: could not read choices (%s)", type(exc).__name__)
            return []
        if not stored:
            return []
        payloads = json.loads(stored)
        return [str(p) for p in payloads] if isinstance(payloads, list) else []

    def _remember_choices(self, message_id: str, payloads: list[str]) -> None:
        try:
            self.store.save(store_key(CHOICES_KEY, message_id), json.dumps(payloads))
        except Exception as exc:  # a number then reaches Rasa as the number
            self._log.warning("email: could not record choices (%s)", type(exc).__name__)

    # ----------------------------------------------------------------- turns

    async def open_turn(self, conversation: str, thread: Thread) -> None:
        """Collect the answers to `conversation` until `finish_turn`; the conversation's
        first mail's thread is recorded for the mails outside a turn (the store keeps the
        first record of a key)."""
        self.turns[conversation] = Turn(thread)
        await asyncio.to_thread(self._remember_thread, conversation, thread)

    def cancel_turn(self, conversation: str) -> None:
        """Drop an open turn unsent."""
        self.turns.pop(conversation, None)

    def compose(self, thread: Thread, parts: Iterable[Part]) -> tuple[EmailMessage, list[str]]:
        """The reply mail of `parts` in `thread`, and the payloads of its numbered choices."""
        body, payloads = render_body(list(parts))
        message = reply_mail(
            body,
            sender=self.address,
            to=thread.address,
            subject=thread.subject,
            in_reply_to=thread.in_reply_to,
            references=thread.references,
            sender_name=self.sender_name,
        )
        attach_files(message, [attached for part in parts for attached in part.files])
        return message, payloads

    def _compose_and_send(self, thread: Thread, parts: list[Part]) -> bool:
        message, payloads = self.compose(thread, parts)
        if payloads:
            self._remember_choices(str(message["Message-ID"]), payloads)
        return self.send_mail_sync(message)

    async def finish_turn(self, conversation: str) -> bool | None:
        """Send the turn's answers as one mail.

        Returns:
            True when it was sent, False when sending failed, None when there was nothing
            to send.
        """
        turn = self.turns.pop(conversation, None)
        if turn is None or not any(turn.parts):
            return None
        return await asyncio.to_thread(self._compose_and_send, turn.thread, turn.parts)

    async def deliver(self, recipient_id: str, part: Part) -> None:
        """Add `part` to the open turn of `recipient_id`, else send it as a mail now."""
        turn = self.turns.get(recipient_id)
        if turn is not None:
            turn.parts.append(part)
            return
        if not part:
            return

        def send_now() -> bool:
            thread = self.thread_of(recipient_id)
            return self._compose_and_send(thread, [part])

        if not await asyncio.to_thread(send_now) and self.raise_on_failure:
            raise EmailSendError(mask_id(recipient_id))

    async def send_agent_file(
        self, recipient_id: str, agent_file: AgentFile, message: dict[str, Any]
    ) -> None:
        """An agent's reply with its file attached to the mail."""
        part = part_of(message)
        part.files.append(agent_file)
        await self.deliver(recipient_id, part)
