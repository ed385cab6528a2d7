"""Tickets: identifiers, drafts, and the service that creates and looks them up.

A ticket id is `YYYYMMDD-XXXXXX`: the date in the helpdesk's time zone and six capital
letters, e.g. `20260414-DBKSWU`.
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Protocol
from zoneinfo import ZoneInfo

from helpdesk.storage.repositories import DuplicateTicketIdError, TicketRecord
from helpdesk.validation import validate_attachment, validate_email

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.storage.repositories import TicketRepository

logger = logging.getLogger(__name__)

#: A canonical ticket id.
TICKET_ID_PATTERN = re.compile(r"^\d{8}-[A-Z]{6}$")
#: A ticket id inside free text: eight digits, an optional separator, six letters.
_TICKET_ID_IN_TEXT = re.compile(r"(?<![0-9])([0-9]{8})[\s\-_./–—]{0,3}([A-Za-z]{6})(?![A-Za-z])")
_LETTERS = string.ascii_uppercase
#: How many fresh ids to draw before giving up on a collision streak.
MAX_ID_ATTEMPTS = 10

#: Citizen-facing (Indonesian) label of each status code.
STATUS_LABELS = {
    "open": "Diterima, menunggu tindak lanjut",
    "in_progress": "Sedang diproses",
    "resolved": "Selesai",
    "closed": "Ditutup",
}

#: Longest subject stored; longer ones are cut (the full text stays in the chronology).
MAX_SUBJECT_LENGTH = 255


def generate_ticket_id(now: datetime, tz: ZoneInfo, rng: random.Random | None = None) -> str:
    """A new ticket id for a ticket created at `now`.

    Args:
        now: The creation time, timezone-aware.
        tz: The helpdesk's time zone: the date part is the local date there.
        rng: A random generator for reproducible ids in tests; `secrets` by default.

    Returns:
        An id such as `20260414-DBKSWU`.

    Raises:
        ValueError: When `now` is naive.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    date = now.astimezone(tz).strftime("%Y%m%d")
    choice = rng.choice if rng is not None else secrets.choice
    return f"{date}-{''.join(choice(_LETTERS) for _ in range(6))}"


def _is_date(digits: str) -> bool:
    try:
        datetime.strptime(digits, "%Y%m%d")
    except ValueError:
        return False
    return True


def normalize_ticket_id(text: str) -> str | None:
    """The canonical ticket id found in `text`, or None.

    Accepts lower case and the forms `20260414-dbkswu`, `20260414 dbkswu` and
    `20260414DBKSWU`, alone or inside a sentence ("cek status tiket 20260414-DBKSWU").
    The eight digits must be a real date.

    Args:
        text: What the user typed.

    Returns:
        The id in upper case with a hyphen, e.g. `20260414-DBKSWU`, or None.
    """
    if not text:
        return None
    for match in _TICKET_ID_IN_TEXT.finditer(text):
        digits, letters = match.groups()
        if _is_date(digits):
            return f"{digits}-{letters.upper()}"
    return None


class TicketValidationError(ValueError):
    """A ticket draft has an invalid field; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TicketDraft:
    """What a citizen filled in on the ticket form."""

    subject: str
    chronology: str
    #: None only when the citizen can be answered on their channel (`sender_id` is set).
    email: str | None
    attachment: str | None = None
    sender_id: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class TicketInfo:
    """A ticket as shown to citizens and agents; times are in the helpdesk's time zone."""

    id: str
    subject: str
    chronology: str
    email: str | None
    attachment: str | None
    status: str
    status_label: str
    public_reply: str | None
    created_at: datetime
    updated_at: datetime


class TicketNotifier(Protocol):
    """Something told about each new ticket (e-mail in production)."""

    def ticket_created(self, ticket: TicketInfo) -> bool: ...  # pragma: no cover


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TicketService:
    """Creates tickets with unique ids and reports their status.

    Args:
        repository: Where tickets are stored.
        notifier: Told about each new ticket; its failures are logged, never fatal.
        tz: The helpdesk's time zone (ticket-id date, times shown to users).
        clock: Returns the current aware time (injected in tests).
        rng: Random generator for ids (injected in tests); `secrets` by default.
    """

    def __init__(
        self,
        repository: "TicketRepository",
        *,
        notifier: TicketNotifier | None = None,
        tz: ZoneInfo,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._repository = repository
        self._notifier = notifier
        self._tz = tz
        self._clock = clock or _utcnow
        self._rng = rng

    def _info(self, record: TicketRecord) -> TicketInfo:
        return TicketInfo(
            id=record.id,
            subject=record.subject,
            chronology=record.chronology,
            email=record.email,
            attachment=record.attachment,
            status=record.status,
            status_label=STATUS_LABELS.get(record.status, record.status),
            public_reply=record.public_reply,
            created_at=record.created_at.astimezone(self._tz),
            updated_at=record.updated_at.astimezone(self._tz),
        )

    @staticmethod
    def _validated(draft: TicketDraft) -> TicketDraft:
        subject = " ".join((draft.subject or "").split())
        chronology = (draft.chronology or "").strip()
        if not subject:
            raise TicketValidationError("subject", "subject must not be empty")
        if not chronology:
            raise TicketValidationError("chronology", "chronology must not be empty")
        email = validate_email(draft.email) if draft.email else None
        if draft.email and email is None:
            raise TicketValidationError("email", f"not a valid e-mail address: {draft.email!r}")
        if email is None and not draft.sender_id:
            raise TicketValidationError("email", "an e-mail or the conversation's sender is needed")
        attachment = None
        if draft.attachment and draft.attachment.strip():
            attachment = validate_attachment(draft.attachment)
            if attachment is None:
                raise TicketValidationError("attachment", "attachment must be a URL or media id")
        return TicketDraft(
            subject=subject[:MAX_SUBJECT_LENGTH],
            chronology=chronology,
            email=email,
            attachment=attachment,
            sender_id=draft.sender_id,
            channel=draft.channel,
        )

    def create(self, draft: TicketDraft) -> TicketInfo:
        """Validate and store a ticket, then notify (when a notifier is set).

        Args:
            draft: The form's content.

        Returns:
            The stored ticket with its new id.

        Raises:
            TicketValidationError: When a field is empty or invalid (a `ValueError`).
            RuntimeError: When no free id was found after `MAX_ID_ATTEMPTS` draws.
        """
        clean = self._validated(draft)
        now = self._clock()
        record: TicketRecord | None = None
        for _ in range(MAX_ID_ATTEMPTS):
            ticket_id = generate_ticket_id(now, self._tz, self._rng)
            try:
                record = self._repository.add(
                    ticket_id=ticket_id,
                    subject=clean.subject,
                    chronology=clean.chronology,
                    email=clean.email,
                    attachment=clean.attachment,
                    sender_id=clean.sender_id,
                    channel=clean.channel,
                    created_at=now,
                )
                break
            except DuplicateTicketIdError:
                logger.info("ticket id %s already taken; drawing another", ticket_id)
        if record is None:
            raise RuntimeError(f"no free ticket id after {MAX_ID_ATTEMPTS} attempts")
        info = self._info(record)
        logger.info("ticket %s created", info.id)
        self._notify(info)
        return info

    def _notify(self, info: TicketInfo) -> None:
        if self._notifier is None:
            return
        try:
            delivered = self._notifier.ticket_created(info)
        except Exception:  # a notifier bug must never lose the stored ticket
            logger.exception("notifier failed for ticket %s", info.id)
            return
        if not delivered:
            logger.warning("notification for ticket %s was not delivered", info.id)

    def get_status(self, ticket_id: str) -> TicketInfo | None:
        """The ticket with this id (any accepted spelling), or None when unknown or malformed."""
        canonical = normalize_ticket_id(ticket_id)
        if canonical is None:
            return None
        record = self._repository.get(canonical)
        return self._info(record) if record is not None else None

    def update_status(
        self, ticket_id: str, status: str, public_reply: str | None = None
    ) -> TicketInfo | None:
        """Change a ticket's status (agents); None when the ticket is unknown.

        Raises:
            ValueError: For an unknown status code.
        """
        canonical = normalize_ticket_id(ticket_id)
        if canonical is None:
            return None
        record = self._repository.set_status(canonical, status, public_reply)
        return self._info(record) if record is not None else None
