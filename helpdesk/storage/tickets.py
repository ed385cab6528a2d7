"""Tickets: the repository that creates, reads and changes them, and its records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import TicketStatus
from helpdesk.storage.models import TICKET_STATUSES, Division, Ticket, utcnow


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

    def status_updates_due(self, limit: int = 100) -> list[TicketRecord]:
        """Tickets of a conversation (a sender and a channel) whose status changed since the
        citizen was last told (`notified_status`; a new ticket counts as told "open"), the
        longest waiting first."""
        told = func.coalesce(Ticket.notified_status, TicketStatus.OPEN.value)
        stmt = (
            select(Ticket)
            .where(
                Ticket.sender_id.is_not(None), Ticket.channel.is_not(None), Ticket.status != told
            )
            .order_by(Ticket.updated_at, Ticket.id)
            .limit(limit)
        )
        with session_scope(self._sessions) as session:
            return [TicketRecord.from_row(row) for row in session.scalars(stmt)]

    def mark_status_notified(self, ticket_id: str, status: str) -> None:
        """Record that the citizen was told (or will never be told) about `status`."""

        def work() -> None:
            with session_scope(self._sessions) as session:
                row = session.get(Ticket, ticket_id)
                if row is not None:
                    row.notified_status = status

        retry_on_locked(work)

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
