"""Repository of the human handoff: the queue of conversations handed to agents.

State changes are conditional updates (`WHERE status = ...`), so two desk processes (or a
desk and its worker) acting on the same handoff at once cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import DeskRole, HandoffStatus
from helpdesk.storage.models import (
    HANDOFF_OPEN_STATUSES,
    HANDOFF_STATUSES,
    DeskUser,
    Handoff,
    utcnow,
)

#: Statuses a handoff ends in.
HANDOFF_END_STATUSES = (
    HandoffStatus.RESOLVED.value,
    HandoffStatus.CANCELLED.value,
    HandoffStatus.EXPIRED.value,
)


@dataclass(frozen=True)
class HandoffRecord:
    """A stored handoff, detached from any session."""

    id: int
    sender_id: str
    channel: str | None
    status: str
    name: str | None
    question: str | None
    category: str | None
    division_id: int | None
    agent_id: int | None
    since_ts: float | None
    ticket_id: str | None
    created_at: datetime
    assigned_at: datetime | None
    first_response_at: datetime | None
    ended_at: datetime | None
    bot_resumed_at: datetime | None
    resume_attempts: int
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status in HANDOFF_OPEN_STATUSES

    @classmethod
    def from_row(cls, row: Handoff) -> "HandoffRecord":
        return cls(
            id=row.id,
            sender_id=row.sender_id,
            channel=row.channel,
            status=row.status,
            name=row.name,
            question=row.question,
            category=row.category,
            division_id=row.division_id,
            agent_id=row.agent_id,
            since_ts=row.since_ts,
            ticket_id=row.ticket_id,
            created_at=row.created_at,
            assigned_at=row.assigned_at,
            first_response_at=row.first_response_at,
            ended_at=row.ended_at,
            bot_resumed_at=row.bot_resumed_at,
            resume_attempts=row.resume_attempts or 0,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True)
class AgentLoad:
    """An online agent and how many open conversations they hold."""

    agent_id: int
    display_name: str
    division_id: int | None
    max_conversations: int
    open_count: int
    last_assigned_at: datetime | None

    @property
    def has_room(self) -> bool:
        return self.open_count < self.max_conversations


class HandoffRepository(_Repository):
    """Handoffs: open one per conversation, queue order, assign, end, resume the bot."""

    def open_for(self, sender_id: str) -> HandoffRecord | None:
        """The conversation's open (waiting or assigned) handoff, or None."""
        stmt = (
            select(Handoff)
            .where(Handoff.sender_id == sender_id, Handoff.status.in_(HANDOFF_OPEN_STATUSES))
            .order_by(Handoff.id.desc())
            .limit(1)
        )
        with session_scope(self._sessions) as session:
            row = session.execute(stmt).scalar_one_or_none()
            return HandoffRecord.from_row(row) if row is not None else None

    def latest_for(self, sender_id: str) -> HandoffRecord | None:
        """The conversation's most recent handoff in any status, or None."""
        stmt = (
            select(Handoff).where(Handoff.sender_id == sender_id).order_by(Handoff.id.desc())
        ).limit(1)
        with session_scope(self._sessions) as session:
            row = session.execute(stmt).scalar_one_or_none()
            return HandoffRecord.from_row(row) if row is not None else None

    def open(
        self,
        sender_id: str,
        *,
        channel: str | None = None,
        name: str | None = None,
        question: str | None = None,
        category: str | None = None,
        division_id: int | None = None,
        since_ts: float | None = None,
        request_key: str | None = None,
    ) -> tuple[HandoffRecord, bool]:
        """Queue the conversation, unless it already has an open handoff, or the message
        `request_key` (a channel message id) asked for one already (whatever its status now:
        a turn run again after a crash).

        Returns:
            (the open handoff, or the request's, True when this call created it).
        """
        if not sender_id:
            raise ValueError("sender_id must not be empty")

        def work() -> tuple[HandoffRecord, bool]:
            with session_scope(self._sessions) as session:
                if request_key:
                    asked = session.execute(
                        select(Handoff).where(Handoff.request_key == request_key)
                    ).scalar_one_or_none()
                    if asked is not None:
                        return HandoffRecord.from_row(asked), False
                existing = session.execute(
                    select(Handoff)
                    .where(
                        Handoff.sender_id == sender_id,
                        Handoff.status.in_(HANDOFF_OPEN_STATUSES),
                    )
                    .limit(1)
                ).scalar_one_or_none()
                if existing is not None:
                    return HandoffRecord.from_row(existing), False
                now = utcnow()
                row = Handoff(
                    sender_id=sender_id,
                    channel=channel,
                    status=HandoffStatus.WAITING,
                    name=name,
                    question=question,
                    category=category,
                    division_id=division_id,
                    since_ts=since_ts,
                    created_at=now,
                    updated_at=now,
                    resume_attempts=0,
                    request_key=request_key or None,
                )
                session.add(row)
                session.flush()
                return HandoffRecord.from_row(row), True

        try:
            return retry_on_locked(work)
        except IntegrityError:  # the same request in another process just now
            return retry_on_locked(work)

    def get(self, handoff_id: int) -> HandoffRecord | None:
        with session_scope(self._sessions) as session:
            row = session.get(Handoff, handoff_id)
            return HandoffRecord.from_row(row) if row is not None else None

    def waiting(self) -> list[HandoffRecord]:
        """Waiting handoffs in queue order (oldest first)."""
        stmt = (
            select(Handoff)
            .where(Handoff.status == HandoffStatus.WAITING)
            .order_by(Handoff.created_at, Handoff.id)
        )
        with session_scope(self._sessions) as session:
            return [HandoffRecord.from_row(row) for row in session.scalars(stmt).all()]

    def queue_summary(self) -> tuple[int, datetime | None]:
        """How many handoffs wait for an agent, and when the oldest of them was requested
        (None when nobody waits); read-only, one query (the queue gauges of `/metrics`)."""
        stmt = select(func.count(Handoff.id), func.min(Handoff.created_at)).where(
            Handoff.status == HandoffStatus.WAITING
        )
        with session_scope(self._sessions) as session:
            waiting, oldest = session.execute(stmt).one()
        return int(waiting), oldest

    def position(self, handoff_id: int) -> int:
        """1-based place of a waiting handoff in the queue (0 when it is not waiting)."""
        with session_scope(self._sessions) as session:
            row = session.get(Handoff, handoff_id)
            if row is None or row.status != HandoffStatus.WAITING:
                return 0
            ahead = session.execute(
                select(func.count())
                .select_from(Handoff)
                .where(
                    Handoff.status == HandoffStatus.WAITING,
                    or_(
                        Handoff.created_at < row.created_at,
                        (Handoff.created_at == row.created_at) & (Handoff.id < row.id),
                    ),
                )
            ).scalar_one()
            return int(ahead) + 1

    def search(
        self,
        *,
        statuses: Iterable[str] | None = None,
        agent_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[HandoffRecord]:
        """Handoffs, newest first, filtered by status, agent and creation time."""
        _check_aware(since, "since")
        _check_aware(until, "until")
        stmt = select(Handoff)
        if statuses is not None:
            wanted = list(statuses)
            unknown = set(wanted) - set(HANDOFF_STATUSES)
            if unknown:
                raise ValueError(f"unknown handoff status(es) {sorted(unknown)}")
            stmt = stmt.where(Handoff.status.in_(wanted))
        if agent_id is not None:
            stmt = stmt.where(Handoff.agent_id == agent_id)
        if since is not None:
            stmt = stmt.where(Handoff.created_at >= since)
        if until is not None:
            stmt = stmt.where(Handoff.created_at < until)
        stmt = stmt.order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit)
        with session_scope(self._sessions) as session:
            return [HandoffRecord.from_row(row) for row in session.scalars(stmt).all()]

    def _update(self, handoff_id: int, conditions: list[Any], **values: Any) -> bool:
        def work() -> bool:
            values.setdefault("updated_at", utcnow())
            stmt = (
                update(Handoff)
                .where(Handoff.id == handoff_id, *conditions)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            with session_scope(self._sessions) as session:
                return bool(session.execute(stmt).rowcount)

        return retry_on_locked(work)

    def assign(self, handoff_id: int, agent_id: int, *, from_waiting_only: bool = True) -> bool:
        """Give the handoff to an agent.

        Args:
            from_waiting_only: Take only a waiting handoff (an agent taking it, automatic
                assignment). False lets a supervisor reassign an assigned one too.

        Returns:
            True when this call assigned it.
        """
        now = utcnow()
        statuses = (HandoffStatus.WAITING,) if from_waiting_only else HANDOFF_OPEN_STATUSES

        def work() -> bool:
            with session_scope(self._sessions) as session:
                taken = session.execute(
                    update(Handoff)
                    .where(Handoff.id == handoff_id, Handoff.status.in_(statuses))
                    .values(
                        status=HandoffStatus.ASSIGNED,
                        agent_id=agent_id,
                        assigned_at=func.coalesce(Handoff.assigned_at, now),
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                ).rowcount
                if taken:
                    session.execute(
                        update(DeskUser)
                        .where(DeskUser.id == agent_id)
                        .values(last_assigned_at=now)
                        .execution_options(synchronize_session=False)
                    )
                return bool(taken)

        return retry_on_locked(work)

    def end(
        self,
        handoff_id: int,
        status: str,
        *,
        ticket_id: str | None = None,
        only_from: Iterable[str] = HANDOFF_OPEN_STATUSES,
        bot_resumed: bool = False,
    ) -> bool:
        """End an open handoff as resolved, cancelled or expired (with its ticket).

        Args:
            bot_resumed: The bot resumes the conversation itself in the same turn (the
                citizen left the queue): `bot_resumed_at` is set with the ending, in one
                update, so the desk worker never resumes it a second time.

        Returns:
            True when this call ended it (False: already ended, or not in `only_from`).
        """
        if status not in HANDOFF_END_STATUSES:
            raise ValueError(f"a handoff ends as one of {HANDOFF_END_STATUSES}, not {status!r}")
        now = utcnow()
        values: dict[str, Any] = {"status": status, "ended_at": now}
        if ticket_id is not None:
            values["ticket_id"] = ticket_id
        if bot_resumed:
            values["bot_resumed_at"] = now
        return self._update(handoff_id, [Handoff.status.in_(tuple(only_from))], **values)

    def set_ticket(self, handoff_id: int, ticket_id: str) -> None:
        """Link the ticket made from an expired handoff."""
        self._update(handoff_id, [Handoff.ticket_id.is_(None)], ticket_id=ticket_id)

    def mark_first_response(self, handoff_id: int) -> None:
        """Record the agent's first reply time (kept once)."""
        self._update(handoff_id, [Handoff.first_response_at.is_(None)], first_response_at=utcnow())

    def mark_resumed(self, handoff_id: int) -> None:
        """The Rasa server resumed the conversation after the handoff ended."""
        self._update(handoff_id, [Handoff.bot_resumed_at.is_(None)], bot_resumed_at=utcnow())

    def note_resume_failure(self, handoff_id: int) -> None:
        self._update(handoff_id, [], resume_attempts=Handoff.resume_attempts + 1)

    def pending_resume(self, ended_since: datetime) -> list[HandoffRecord]:
        """Handoffs ended at or after `ended_since` whose conversation the bot has not resumed
        yet (oldest first)."""
        _check_aware(ended_since, "ended_since")
        stmt = (
            select(Handoff)
            .where(
                Handoff.status.in_(HANDOFF_END_STATUSES),
                Handoff.bot_resumed_at.is_(None),
                Handoff.ended_at >= ended_since,
            )
            .order_by(Handoff.ended_at, Handoff.id)
        )
        with session_scope(self._sessions) as session:
            return [HandoffRecord.from_row(row) for row in session.scalars(stmt).all()]

    def online_agents(self) -> list[AgentLoad]:
        """Active agents (role "agent") who are online, with their open conversation counts.

        Supervisors and admins take conversations by hand; automatic assignment is for agents.
        """
        open_count = (
            select(func.count(Handoff.id))
            .where(Handoff.agent_id == DeskUser.id, Handoff.status == HandoffStatus.ASSIGNED)
            .correlate(DeskUser)
            .scalar_subquery()
        )
        stmt = (
            select(DeskUser, open_count)
            .where(
                DeskUser.active.is_(True),
                DeskUser.online.is_(True),
                DeskUser.role == DeskRole.AGENT,
            )
            .order_by(DeskUser.id)
        )
        with session_scope(self._sessions) as session:
            return [
                AgentLoad(
                    agent_id=user.id,
                    display_name=user.display_name,
                    division_id=user.division_id,
                    max_conversations=user.max_conversations,
                    open_count=int(count or 0),
                    last_assigned_at=user.last_assigned_at,
                )
                for user, count in session.execute(stmt).all()
            ]

    def open_count(self, agent_id: int) -> int:
        """How many conversations the agent holds now."""
        with session_scope(self._sessions) as session:
            return int(
                session.execute(
                    select(func.count(Handoff.id)).where(
                        Handoff.agent_id == agent_id, Handoff.status == HandoffStatus.ASSIGNED
                    )
                ).scalar_one()
            )

    def recent_pickup_seconds(self, limit: int = 20) -> list[float]:
        """Seconds from request to assignment of the latest assigned handoffs."""
        stmt = (
            select(Handoff.created_at, Handoff.assigned_at)
            .where(Handoff.assigned_at.is_not(None))
            .order_by(Handoff.assigned_at.desc())
            .limit(limit)
        )
        with session_scope(self._sessions) as session:
            return [
                max(0.0, (assigned - created).total_seconds())
                for created, assigned in session.execute(stmt).all()
                if assigned is not None and created is not None
            ]
