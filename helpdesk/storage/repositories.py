"""Repositories: the only code that reads and writes the helpdesk tables.

Each method is one unit of work in its own session. Write paths retry SQLite's transient
"database is locked" error with backoff, so a busy moment loses nothing. Results going
upward are plain frozen dataclasses, never ORM objects bound to a session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk.security.masking import mask_identifiers
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import CsatKind, IdleClosureStatus, InboundMessageStatus, TicketStatus
from helpdesk.storage.models import (
    CSAT_KINDS,
    HANDOFF_OPEN_STATUSES,
    TICKET_STATUSES,
    Conversation,
    CsatRating,
    Division,
    Handoff,
    IdleClosure,
    InboundMessage,
    QuestionLog,
    Ticket,
    utcnow,
)

SessionFactory = Callable[[], Session]


class DuplicateTicketIdError(Exception):
    """A ticket with this id already exists (the caller draws a new id)."""


@dataclass(frozen=True)
class TicketRecord:
    """A stored ticket, detached from any session."""

    id: str
    subject: str
    chronology: str
    email: str | None
    attachment: str | None
    status: str
    public_reply: str | None
    sender_id: str | None
    channel: str | None
    created_at: datetime
    updated_at: datetime
    #: The division working on it and the desk user it is assigned to (None: nobody yet).
    division_id: int | None = None
    assignee_id: int | None = None

    @classmethod
    def from_row(cls, row: Ticket) -> "TicketRecord":
        return cls(
            id=row.id,
            subject=row.subject,
            chronology=row.chronology,
            email=row.email,
            attachment=row.attachment,
            status=row.status,
            public_reply=row.public_reply,
            sender_id=row.sender_id,
            channel=row.channel,
            created_at=row.created_at,
            updated_at=row.updated_at,
            division_id=row.division_id,
            assignee_id=row.assignee_id,
        )


def _check_aware(value: datetime | None, name: str) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


class _Repository:
    """Base of the repositories: each unit of work opens its own session from the factory."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory


class TicketRepository(_Repository):
    """Tickets: create, read, change status."""

    def add(
        self,
        *,
        ticket_id: str,
        subject: str,
        chronology: str,
        email: str | None,
        attachment: str | None = None,
        sender_id: str | None = None,
        channel: str | None = None,
        status: str = TicketStatus.OPEN,
        created_at: datetime | None = None,
        division_id: int | None = None,
    ) -> TicketRecord:
        """Store a new ticket (`division_id`: the division that works on it, None: nobody
        yet, only supervisors see it until one is set).

        Raises:
            DuplicateTicketIdError: When `ticket_id` is taken.
            ValueError: For an unknown status or a naive `created_at`.
        """
        if status not in TICKET_STATUSES:
            raise ValueError(f"unknown ticket status {status!r}")
        _check_aware(created_at, "created_at")
        now = created_at or utcnow()

        def work() -> TicketRecord:
            row = Ticket(
                id=ticket_id,
                subject=subject,
                chronology=chronology,
                email=email,
                attachment=attachment,
                status=status,
                sender_id=sender_id,
                channel=channel,
                created_at=now,
                updated_at=now,
                division_id=division_id,
            )
            try:
                with session_scope(self._sessions) as session:
                    if session.get(Ticket, ticket_id) is not None:
                        raise DuplicateTicketIdError(ticket_id)
                    if division_id is not None and session.get(Division, division_id) is None:
                        # Deleted since it was looked up: the ticket matters more.
                        row.division_id = None
                    session.add(row)
                    session.flush()
                    return TicketRecord.from_row(row)
            except IntegrityError as exc:
                if self.exists(ticket_id):
                    raise DuplicateTicketIdError(ticket_id) from exc
                raise

        return retry_on_locked(work)

    def get(self, ticket_id: str) -> TicketRecord | None:
        """The ticket with this id, or None."""
        with session_scope(self._sessions) as session:
            row = session.get(Ticket, ticket_id)
            return TicketRecord.from_row(row) if row is not None else None

    def find_by_sender_and_letters(self, sender_id: str, letters: str) -> TicketRecord | None:
        """The ticket of `sender_id` whose id ends with `-letters` (any date), or None.

        Raises:
            ValueError: When `letters` are not six capital letters.
        """
        if len(letters) != 6 or not (letters.isascii() and letters.isalpha() and letters.isupper()):
            raise ValueError(f"ticket id letters must be six capital letters, got {letters!r}")
        with session_scope(self._sessions) as session:
            row = session.scalars(
                select(Ticket)
                .where(Ticket.sender_id == sender_id, Ticket.id.like(f"%-{letters}"))
                .order_by(Ticket.created_at)
                .limit(1)
            ).first()
            return TicketRecord.from_row(row) if row is not None else None

    def exists(self, ticket_id: str) -> bool:
        """Whether a ticket with this id is stored."""
        with session_scope(self._sessions) as session:
            found = session.execute(select(Ticket.id).where(Ticket.id == ticket_id)).first()
            return found is not None

    def set_status(
        self, ticket_id: str, status: str, public_reply: str | None = None
    ) -> TicketRecord | None:
        """Change a ticket's status (and its public reply when one is given).

        Returns:
            The updated ticket, or None when no ticket has this id.

        Raises:
            ValueError: For an unknown status.
        """
        if status not in TICKET_STATUSES:
            raise ValueError(f"unknown ticket status {status!r}")

        def work() -> TicketRecord | None:
            with session_scope(self._sessions) as session:
                row = session.get(Ticket, ticket_id)
                if row is None:
                    return None
                row.status = status
                if public_reply is not None:
                    row.public_reply = public_reply
                row.updated_at = utcnow()
                session.flush()
                return TicketRecord.from_row(row)

        return retry_on_locked(work)

    def set_owner(
        self, ticket_id: str, *, division_id: int | None, assignee_id: int | None
    ) -> TicketRecord | None:
        """Give a ticket to a division and/or a desk user (None: to nobody).

        Returns:
            The updated ticket, or None when no ticket has this id.
        """

        def work() -> TicketRecord | None:
            with session_scope(self._sessions) as session:
                row = session.get(Ticket, ticket_id)
                if row is None:
                    return None
                row.division_id = division_id
                row.assignee_id = assignee_id
                row.updated_at = utcnow()
                session.flush()
                return TicketRecord.from_row(row)

        return retry_on_locked(work)


class CsatRepository(_Repository):
    """Satisfaction ratings (1-5)."""

    def add(
        self,
        sender_id: str,
        rating: int,
        *,
        kind: str = CsatKind.FAQ,
        question: str | None = None,
        faq_id: str | None = None,
        handoff_id: int | None = None,
    ) -> None:
        """Store one rating (`handoff_id`: the handoff an "agent" rating is about).

        Raises:
            ValueError: For a rating outside 1-5 or an unknown kind.
        """
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValueError(f"rating must be an integer from 1 to 5, got {rating!r}")
        if kind not in CSAT_KINDS:
            raise ValueError(f"unknown rating kind {kind!r}; expected one of {CSAT_KINDS}")

        def work() -> None:
            with session_scope(self._sessions) as session:
                session.add(
                    CsatRating(
                        sender_id=sender_id,
                        rating=rating,
                        kind=kind,
                        question=question,
                        faq_id=faq_id,
                        handoff_id=handoff_id,
                        created_at=utcnow(),
                    )
                )

        retry_on_locked(work)


class QuestionLogRepository(_Repository):
    """Every question put to the knowledge base, for knowledge managers."""

    def record(
        self,
        sender_id: str,
        question: str,
        *,
        answered: bool,
        faq_id: str | None = None,
        score: float | None = None,
    ) -> None:
        """Record a question and whether it was answered (with the FAQ id and score).

        Identifiers in it (NIK, NIP, phone, account numbers, e-mail addresses) are masked
        before they are stored: the question log feeds reports and CSV exports, and the
        knowledge managers need the wording, not the citizen's numbers.
        """

        def work() -> None:
            with session_scope(self._sessions) as session:
                session.add(
                    QuestionLog(
                        sender_id=sender_id,
                        question=mask_identifiers(question),
                        answered=bool(answered),
                        faq_id=faq_id,
                        score=float(score) if score is not None else None,
                        created_at=utcnow(),
                    )
                )

        retry_on_locked(work)

    def top_unanswered(
        self,
        limit: int = 10,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[str, int]]:
        """The most frequent unanswered questions, most frequent first.

        Questions differing only in case or surrounding spaces count as one.

        Args:
            limit: How many questions at most.
            since: Only questions asked at or after this time (timezone-aware).
            until: Only questions asked before this time (timezone-aware).

        Returns:
            (question, count) pairs.
        """
        if limit <= 0:
            raise ValueError("limit must be > 0")
        _check_aware(since, "since")
        _check_aware(until, "until")
        key = func.lower(func.trim(QuestionLog.question))
        count = func.count(QuestionLog.id)
        stmt = select(func.min(QuestionLog.question), count).where(QuestionLog.answered.is_(False))
        if since is not None:
            stmt = stmt.where(QuestionLog.created_at >= since)
        if until is not None:
            stmt = stmt.where(QuestionLog.created_at < until)
        stmt = (
            stmt.group_by(key)
            .order_by(count.desc(), func.max(QuestionLog.created_at).desc())
            .limit(limit)
        )
        with session_scope(self._sessions) as session:
            return [(str(q).strip(), int(n)) for q, n in session.execute(stmt).all()]


class ConversationRepository(_Repository):
    """Conversation session starts (one row each)."""

    def record_session_start(self, sender_id: str, channel: str | None = None) -> None:
        """Record that a conversation session started."""

        def work() -> None:
            with session_scope(self._sessions) as session:
                session.add(Conversation(sender_id=sender_id, channel=channel, started_at=utcnow()))

        retry_on_locked(work)


@dataclass(frozen=True)
class InboundMessageRecord:
    """A claimed inbound channel message, detached from any session."""

    channel: str
    message_id: str
    sender: str
    status: str
    payload: str | None
    received_at: datetime
    done_at: datetime | None

    @classmethod
    def from_row(cls, row: InboundMessage) -> "InboundMessageRecord":
        return cls(
            channel=row.channel,
            message_id=row.message_id,
            sender=row.sender,
            status=row.status,
            payload=row.payload,
            received_at=row.received_at,
            done_at=row.done_at,
        )


class InboundMessageRepository(_Repository):
    """Inbound channel messages: claim each one once, mark it done, find unfinished ones.

    A webhook claims a message before it answers the delivery; a second delivery of the same
    (channel, message_id) finds it claimed and is only acknowledged. The claim is the unique
    constraint itself, so two processes receiving the same delivery at once cannot both win.
    """

    def claim(self, channel: str, message_id: str, sender: str, payload: str | None = None) -> bool:
        """Record a message as received, unless it was seen before.

        Args:
            channel: The channel name, e.g. "whatsapp".
            message_id: The channel's id of the message.
            sender: The sender id (the conversation key).
            payload: What is needed to process the message again after a crash (kept only
                until the message is done).

        Returns:
            True when this call claimed the message, False when it was already claimed.

        Raises:
            ValueError: For an empty channel, message id or sender.
        """
        if not channel or not message_id or not sender:
            raise ValueError("channel, message_id and sender must not be empty")

        def work() -> bool:
            try:
                with session_scope(self._sessions) as session:
                    session.add(
                        InboundMessage(
                            channel=channel,
                            message_id=message_id,
                            sender=sender,
                            status=InboundMessageStatus.RECEIVED,
                            payload=payload,
                            received_at=utcnow(),
                        )
                    )
                    session.flush()
                return True
            except IntegrityError:
                if self.get(channel, message_id) is not None:
                    return False
                raise

        return retry_on_locked(work)

    def get(self, channel: str, message_id: str) -> InboundMessageRecord | None:
        """The claimed message, or None when it was never claimed."""
        stmt = select(InboundMessage).where(
            InboundMessage.channel == channel, InboundMessage.message_id == message_id
        )
        with session_scope(self._sessions) as session:
            row = session.execute(stmt).scalar_one_or_none()
            return InboundMessageRecord.from_row(row) if row is not None else None

    def mark_done(self, channel: str, message_id: str) -> bool:
        """Mark a message as processed and forget its payload.

        Returns:
            True when the message was pending and is now done.
        """

        def work() -> bool:
            stmt = (
                update(InboundMessage)
                .where(
                    InboundMessage.channel == channel,
                    InboundMessage.message_id == message_id,
                    InboundMessage.status == InboundMessageStatus.RECEIVED,
                )
                .values(status=InboundMessageStatus.DONE, payload=None, done_at=utcnow())
            )
            with session_scope(self._sessions) as session:
                return bool(session.execute(stmt).rowcount)

        return retry_on_locked(work)

    def pending(
        self, older_than: timedelta, *, channel: str | None = None, limit: int = 100
    ) -> list[InboundMessageRecord]:
        """Messages claimed more than `older_than` ago and still not done, oldest first.

        Args:
            older_than: How long ago a message must have been claimed (a younger one may
                still be in the works in another process).
            channel: Only messages of this channel.
            limit: How many at most.
        """
        if limit <= 0:
            raise ValueError("limit must be > 0")
        stmt = select(InboundMessage).where(
            InboundMessage.status == InboundMessageStatus.RECEIVED,
            InboundMessage.received_at < utcnow() - older_than,
        )
        if channel is not None:
            stmt = stmt.where(InboundMessage.channel == channel)
        stmt = stmt.order_by(InboundMessage.received_at, InboundMessage.id).limit(limit)
        with session_scope(self._sessions) as session:
            return [InboundMessageRecord.from_row(row) for row in session.scalars(stmt).all()]

    def reclaim(self, channel: str, message_id: str, older_than: timedelta) -> bool:
        """Take over a pending message for processing again (recovery after a crash).

        The claim time is renewed, so of several processes recovering at once only one wins.

        Returns:
            True when this call took the message over; False when it is done, unknown, or
            was claimed (or reclaimed) less than `older_than` ago.
        """

        def work() -> bool:
            now = utcnow()
            stmt = (
                update(InboundMessage)
                .where(
                    InboundMessage.channel == channel,
                    InboundMessage.message_id == message_id,
                    InboundMessage.status == InboundMessageStatus.RECEIVED,
                    InboundMessage.received_at < now - older_than,
                )
                .values(received_at=now)
            )
            with session_scope(self._sessions) as session:
                return bool(session.execute(stmt).rowcount)

        return retry_on_locked(work)

    def purge_done(self, older_than: timedelta) -> int:
        """Delete done messages finished more than `older_than` ago.

        Returns:
            How many rows were deleted.
        """

        def work() -> int:
            stmt = delete(InboundMessage).where(
                InboundMessage.status == InboundMessageStatus.DONE,
                InboundMessage.done_at < utcnow() - older_than,
            )
            with session_scope(self._sessions) as session:
                return int(session.execute(stmt).rowcount or 0)

        return retry_on_locked(work)


class IdleClosureRepository(_Repository):
    """Closures of idle conversations by the sweeper (each silence is closed once)."""

    def claim(self, sender_id: str, last_user_at: datetime, max_attempts: int) -> bool:
        """Take the closing of this silence; False when it is closed, being closed, or given up.

        A failed attempt can be claimed again until `max_attempts` attempts were made.
        """
        _check_aware(last_user_at, "last_user_at")

        def work() -> bool:
            with session_scope(self._sessions) as session:
                row = session.execute(
                    select(IdleClosure).where(
                        IdleClosure.sender_id == sender_id,
                        IdleClosure.last_user_at == last_user_at,
                    )
                ).scalar_one_or_none()
                if row is None:
                    session.add(
                        IdleClosure(
                            sender_id=sender_id,
                            last_user_at=last_user_at,
                            status=IdleClosureStatus.CLOSING,
                            attempts=1,
                            updated_at=utcnow(),
                        )
                    )
                    try:
                        session.flush()
                    except IntegrityError:  # another sweeper took it first
                        session.rollback()
                        return False
                    return True
                if row.status != IdleClosureStatus.FAILED or row.attempts >= max_attempts:
                    return False
                # Conditional update: of two sweepers retrying at once, only one wins.
                taken = session.execute(
                    update(IdleClosure)
                    .where(
                        IdleClosure.id == row.id,
                        IdleClosure.status == IdleClosureStatus.FAILED,
                        IdleClosure.attempts == row.attempts,
                    )
                    .values(
                        status=IdleClosureStatus.CLOSING,
                        attempts=row.attempts + 1,
                        updated_at=utcnow(),
                    )
                    .execution_options(synchronize_session=False)
                )
                return bool(taken.rowcount)

        return retry_on_locked(work)

    def _set(self, sender_id: str, last_user_at: datetime, status: IdleClosureStatus) -> None:
        def work() -> None:
            now = utcnow()
            values = {"status": status, "updated_at": now}
            if status == IdleClosureStatus.CLOSED:
                values["closed_at"] = now
            with session_scope(self._sessions) as session:
                session.execute(
                    update(IdleClosure)
                    .where(
                        IdleClosure.sender_id == sender_id,
                        IdleClosure.last_user_at == last_user_at,
                    )
                    .values(**values)
                )

        retry_on_locked(work)

    def mark_closed(self, sender_id: str, last_user_at: datetime) -> None:
        self._set(sender_id, last_user_at, IdleClosureStatus.CLOSED)

    def mark_failed(self, sender_id: str, last_user_at: datetime) -> None:
        self._set(sender_id, last_user_at, IdleClosureStatus.FAILED)

    def count_closed(self, sender_id: str | None = None) -> int:
        """How many silences were closed (for one conversation, or in all)."""
        with session_scope(self._sessions) as session:
            query = (
                select(func.count())
                .select_from(IdleClosure)
                .where(IdleClosure.status == IdleClosureStatus.CLOSED)
            )
            if sender_id is not None:
                query = query.where(IdleClosure.sender_id == sender_id)
            return int(session.execute(query).scalar_one())

    def held_by_agent(self, sender_id: str, *, ended_since: datetime | None = None) -> bool:
        """True when a human agent holds the conversation (an open handoff), or - with
        `ended_since` - a handoff of it ended at or after that time (the citizen's silence
        was time spent with the agent, not idleness)."""
        _check_aware(ended_since, "ended_since")
        condition = Handoff.status.in_(HANDOFF_OPEN_STATUSES)
        if ended_since is not None:
            condition = or_(condition, Handoff.ended_at >= ended_since)
        with session_scope(self._sessions) as session:
            found = session.execute(
                select(Handoff.id).where(Handoff.sender_id == sender_id, condition).limit(1)
            ).first()
            return found is not None
