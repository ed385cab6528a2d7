"""Tickets: identifiers, drafts, and the service that creates and looks them up.

A ticket id is `YYYYMMDD-XXXXXX`: the date in the helpdesk's time zone and six capital
letters, e.g. `20260414-DBKSWU`.

A ticket form submission creates at most one ticket: the action passes a submission key (the
conversation and the moment this run of the form started, `form_submission_key`), the
letters of the id are derived from it, and a second call with the same key (the citizen
pressing "Kirim" again after the Rasa server crashed before saving the conversation) finds
the ticket made the first time and returns it instead of making another.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Protocol
from zoneinfo import ZoneInfo

from helpdesk import metrics
from helpdesk.conversation.validation import validate_attachment, validate_email
from helpdesk.storage.enums import TicketStatus
from helpdesk.storage.tickets import DuplicateTicketIdError, TicketRecord

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.storage.tickets import TicketRepository

logger = logging.getLogger(__name__)

#: A canonical ticket id.
TICKET_ID_PATTERN = re.compile(r"^\d{8}-[A-Z]{6}$")
#: A ticket id inside free text: eight digits, an optional separator, six letters.
_TICKET_ID_IN_TEXT = re.compile(r"(?<![0-9])([0-9]{8})[\s\-_./–—]{0,3}([A-Za-z]{6})(?![A-Za-z])")
_LETTERS = string.ascii_uppercase
#: How many fresh ids to draw before giving up on a collision streak.
MAX_ID_ATTEMPTS = 10

#: Citizen-facing (Indonesian) label of each status code.
STATUS_LABELS: dict[str, str] = {
    TicketStatus.OPEN: "Diterima, menunggu tindak lanjut",
    TicketStatus.IN_PROGRESS: "Sedang diproses",
    TicketStatus.RESOLVED: "Selesai",
    TicketStatus.CLOSED: "Ditutup",
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
    choice = rng.choice if rng is not None else secrets.choice
    return f"{_date_part(now, tz)}-{''.join(choice(_LETTERS) for _ in range(6))}"


def _date_part(now: datetime, tz: ZoneInfo) -> str:
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(tz).strftime("%Y%m%d")


def form_submission_key(sender_id: str, form_started_at: float) -> str:
    """The key of one run of a form (the ticket form, the rating form): the same for every
    retry of its last step (the ticket's "Kirim", the rating).

    Args:
        sender_id: The conversation's sender id.
        form_started_at: The timestamp of the event that activated this run of the form (as
            Rasa stored it: it is the same every time the tracker is read).

    Returns:
        An opaque key for `TicketService.create(..., submission_key=...)`.
    """
    return f"{sender_id}\x00{form_started_at!r}"


def submission_letters(submission_key: str, attempt: int = 0) -> str:
    """The six capital letters of the `attempt`-th candidate id of a form submission.

    Derived from the key with SHA-256, so every process computes the same candidates; the
    next attempt is used when another conversation's ticket already has the id.
    """
    seed = f"helpdesk-ticket\x00{attempt}\x00{submission_key}".encode()
    number = int.from_bytes(hashlib.sha256(seed).digest(), "big")
    letters = []
    for _ in range(6):
        number, index = divmod(number, len(_LETTERS))
        letters.append(_LETTERS[index])
    return "".join(letters)


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
    #: The FAQ category the citizen asked about (routes the ticket to its division).
    category: str | None = None
    #: The division that works on the ticket, when the caller knows it (an expired
    #: handoff's); else the division serving `category`.
    division_id: int | None = None


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
        division_for_category: The division serving an FAQ category (None: none does);
            a new ticket goes to it, so its agents see the ticket in the desk.
    """

    def __init__(
        self,
        repository: "TicketRepository",
        *,
        notifier: TicketNotifier | None = None,
        tz: ZoneInfo,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        division_for_category: Callable[[str], int | None] | None = None,
    ) -> None:
        self._repository = repository
        self._division_for_category = division_for_category
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
            category=draft.category,
            division_id=draft.division_id,
        )

    def _division_of(self, clean: TicketDraft) -> int | None:
        if clean.division_id is not None:
            return clean.division_id
        if not clean.category or self._division_for_category is None:
            return None
        try:
            return self._division_for_category(clean.category)
        except Exception:  # the ticket matters more than its routing
            logger.exception("could not find the division of category %r", clean.category)
            return None

    def create(self, draft: TicketDraft, *, submission_key: str | None = None) -> TicketInfo:
        """Validate and store a ticket, then notify (when a notifier is set).

        Args:
            draft: The form's content.
            submission_key: The form submission this ticket comes from
                (`form_submission_key`); with it and a `sender_id`, a ticket already made
                for the same key is returned as it is (not stored or notified again). None
                for tickets that are not form submissions: a random id each time.

        Returns:
            The stored ticket with its id.

        Raises:
            TicketValidationError: When a field is empty or invalid (a `ValueError`).
            RuntimeError: When no free id was found after `MAX_ID_ATTEMPTS` draws.
        """
        clean = self._validated(draft)
        now = self._clock()
        record: TicketRecord | None = None
        if submission_key is not None and clean.sender_id:
            record, created = self._add_for_submission(clean, now, submission_key)
            if record is not None and not created:
                logger.info("ticket %s was already created for this submission", record.id)
                return self._info(record)
        if record is None:
            record = self._add_with_random_id(clean, now)
        info = self._info(record)
        logger.info("ticket %s created", info.id)
        metrics.ticket_created(clean.channel)
        self._notify(info)
        return info

    def _add(self, clean: TicketDraft, ticket_id: str, now: datetime) -> TicketRecord:
        return self._repository.add(
            ticket_id=ticket_id,
            subject=clean.subject,
            chronology=clean.chronology,
            email=clean.email,
            attachment=clean.attachment,
            sender_id=clean.sender_id,
            channel=clean.channel,
            created_at=now,
            division_id=self._division_of(clean),
        )

    def _add_for_submission(
        self, clean: TicketDraft, now: datetime, submission_key: str
    ) -> tuple[TicketRecord | None, bool]:
        """(the ticket, True when made now) for a submission; (None, False) when every
        candidate id is taken by other conversations' tickets."""
        sender_id = clean.sender_id or ""
        for attempt in range(MAX_ID_ATTEMPTS):
            letters = submission_letters(submission_key, attempt)
            # Found under any date: a retry after midnight gets the ticket made before it.
            existing = self._repository.find_by_sender_and_letters(sender_id, letters)
            if existing is not None:
                return existing, False
            ticket_id = f"{_date_part(now, self._tz)}-{letters}"
            try:
                return self._add(clean, ticket_id, now), True
            except DuplicateTicketIdError:
                # Made a moment ago for this submission by another process, or another
                # conversation's ticket has this id: then the next candidate.
                existing = self._repository.find_by_sender_and_letters(sender_id, letters)
                if existing is not None:
                    return existing, False
                logger.info("ticket id %s already taken; trying the next candidate", ticket_id)
        return None, False

    def _add_with_random_id(self, clean: TicketDraft, now: datetime) -> TicketRecord:
        for _ in range(MAX_ID_ATTEMPTS):
            ticket_id = generate_ticket_id(now, self._tz, self._rng)
            try:
                return self._add(clean, ticket_id, now)
            except DuplicateTicketIdError:
                logger.info("ticket id %s already taken; drawing another", ticket_id)
        raise RuntimeError(f"no free ticket id after {MAX_ID_ATTEMPTS} attempts")

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

    def get_record(self, ticket_id: str) -> TicketRecord | None:
        """The stored ticket (any accepted spelling of its id) with its owner fields, as the
        agent desk works on it; None when unknown or malformed."""
        canonical = normalize_ticket_id(ticket_id)
        if canonical is None:
            return None
        return self._repository.get(canonical)

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

    def set_owner(
        self, ticket_id: str, *, division_id: int | None, assignee_id: int | None
    ) -> TicketRecord | None:
        """Give a ticket to a division and/or a desk user (None: to nobody); None when the
        ticket is unknown."""
        canonical = normalize_ticket_id(ticket_id)
        if canonical is None:
            return None
        return self._repository.set_owner(
            canonical, division_id=division_id, assignee_id=assignee_id
        )
