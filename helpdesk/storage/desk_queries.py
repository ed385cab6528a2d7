"""Read-only queries of the agent desk over the helpdesk tables.

The ticket list with its filters, paging and who may see which ticket (`tickets_visible_to`),
the FAQ questions a citizen asked in a time window (what the bot tried before the handoff) and
a citizen's earlier handoffs. Results are frozen dataclasses, like every repository's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, or_, select

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import session_scope
from helpdesk.storage.desk_users import DeskUserRecord
from helpdesk.storage.handoffs import HandoffRecord
from helpdesk.storage.models import TICKET_STATUSES, Handoff, QuestionLog, Ticket
from helpdesk.storage.tickets import TicketRecord

#: Tickets per page of the desk's ticket list.
TICKETS_PER_PAGE = 25
#: `TicketFilter.owner` values: tickets nobody owns yet, tickets assigned to the viewer.
OWNER_NONE = "none"
OWNER_ME = "me"


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets to list.

    Attributes:
        status: One of `TICKET_STATUSES`, or None for all.
        text: Case-insensitive part of the ticket id or subject, or None.
        since: Created at or after this time (timezone-aware), or None.
        until: Created before this time (timezone-aware), or None.
        owner: `OWNER_NONE` (no division and no assignee), `OWNER_ME` (assigned to the
            viewer), or None for all the viewer may see.
    """

    status: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    owner: str | None = None


@dataclass(frozen=True)
class TicketPage:
    """One page of tickets, newest first, and how many match in all."""

    tickets: list[TicketRecord]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass(frozen=True)
class QuestionLogRecord:
    """A question put to the knowledge base and what the bot found for it."""

    id: int
    question: str
    answered: bool
    faq_id: str | None
    score: float | None
    created_at: datetime


def may_view_ticket(user: DeskUserRecord, ticket: TicketRecord) -> bool:
    """Whether a desk user may see (and work on) a ticket.

    Supervisors and admins see every ticket; an agent sees the tickets of their division and
    those assigned to them. A ticket nobody owns yet is for the supervisors to give out.
    `tickets_visible_to` is the same rule in SQL.
    """
    if user.is_supervisor:
        return True
    if ticket.assignee_id is not None and ticket.assignee_id == user.id:
        return True
    return user.division_id is not None and ticket.division_id == user.division_id


def tickets_visible_to(user: DeskUserRecord) -> Any:
    """The SQL condition of `may_view_ticket` for `user` (None: every ticket)."""
    if user.is_supervisor:
        return None
    conditions = [Ticket.assignee_id == user.id]
    if user.division_id is not None:
        conditions.append(Ticket.division_id == user.division_id)
    return or_(*conditions)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class DeskQueries(_Repository):
    """The desk's read-only lists: tickets, a citizen's FAQ questions and earlier handoffs."""

    def search_tickets(
        self,
        wanted: TicketFilter,
        *,
        viewer: DeskUserRecord | None = None,
        page: int = 1,
        per_page: int = TICKETS_PER_PAGE,
    ) -> TicketPage:
        """Tickets matching the filter that `viewer` may see, newest first, one page of them.

        Args:
            wanted: The filters.
            viewer: The desk user asking (`may_view_ticket`); None (internal use only) lists
                every ticket.
            page: Page number, from 1.
            per_page: Tickets per page.

        Raises:
            ValueError: For an unknown status or owner filter, naive times, or a page or size
                below 1.
        """
        if wanted.status is not None and wanted.status not in TICKET_STATUSES:
            raise ValueError(f"unknown ticket status {wanted.status!r}")
        if wanted.owner not in (None, OWNER_NONE, OWNER_ME):
            raise ValueError(f"unknown owner filter {wanted.owner!r}")
        if page < 1 or per_page < 1:
            raise ValueError("page and per_page must be >= 1")
        _check_aware(wanted.since, "since")
        _check_aware(wanted.until, "until")
        conditions = []
        if viewer is not None:
            visible = tickets_visible_to(viewer)
            if visible is not None:
                conditions.append(visible)
        if wanted.owner == OWNER_NONE:
            conditions.extend([Ticket.division_id.is_(None), Ticket.assignee_id.is_(None)])
        elif wanted.owner == OWNER_ME:
            conditions.append(Ticket.assignee_id == viewer.id if viewer is not None else false())
        if wanted.status is not None:
            conditions.append(Ticket.status == wanted.status)
        text = (wanted.text or "").strip().lower()
        if text:
            pattern = _like_pattern(text)
            conditions.append(
                or_(
                    func.lower(Ticket.id).like(pattern, escape="\\"),
                    func.lower(Ticket.subject).like(pattern, escape="\\"),
                )
            )
        if wanted.since is not None:
            conditions.append(Ticket.created_at >= wanted.since)
        if wanted.until is not None:
            conditions.append(Ticket.created_at < wanted.until)
        with session_scope(self._sessions) as session:
            total = int(
                session.execute(
                    select(func.count()).select_from(Ticket).where(*conditions)
                ).scalar_one()
            )
            rows = session.scalars(
                select(Ticket)
                .where(*conditions)
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                .offset((page - 1) * per_page)
                .limit(per_page)
            ).all()
            return TicketPage(
                tickets=[TicketRecord.from_row(row) for row in rows],
                total=total,
                page=page,
                per_page=per_page,
            )

    def questions_of(
        self,
        sender_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[QuestionLogRecord]:
        """The sender's knowledge-base questions in a time window, oldest first."""
        _check_aware(since, "since")
        _check_aware(until, "until")
        stmt = select(QuestionLog).where(QuestionLog.sender_id == sender_id)
        if since is not None:
            stmt = stmt.where(QuestionLog.created_at >= since)
        if until is not None:
            stmt = stmt.where(QuestionLog.created_at < until)
        stmt = stmt.order_by(QuestionLog.created_at.desc(), QuestionLog.id.desc()).limit(limit)
        with session_scope(self._sessions) as session:
            records = [
                QuestionLogRecord(
                    id=row.id,
                    question=row.question,
                    answered=bool(row.answered),
                    faq_id=row.faq_id,
                    score=row.score,
                    created_at=row.created_at,
                )
                for row in session.scalars(stmt).all()
            ]
        return list(reversed(records))

    def handoffs_of(
        self, sender_id: str, *, exclude_id: int | None = None, limit: int = 20
    ) -> list[HandoffRecord]:
        """The sender's handoffs, newest first (without `exclude_id`)."""
        stmt = select(Handoff).where(Handoff.sender_id == sender_id)
        if exclude_id is not None:
            stmt = stmt.where(Handoff.id != exclude_id)
        stmt = stmt.order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit)
        with session_scope(self._sessions) as session:
            return [HandoffRecord.from_row(row) for row in session.scalars(stmt).all()]
