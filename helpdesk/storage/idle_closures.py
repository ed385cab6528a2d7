"""Closures of idle conversations by the sweeper, one per silence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import IdleClosureStatus
from helpdesk.storage.models import HANDOFF_OPEN_STATUSES, Handoff, IdleClosure, utcnow


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
