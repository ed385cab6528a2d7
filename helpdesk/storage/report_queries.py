"""Read-only aggregate queries of the supervisors' reports (`helpdesk.reports`).

Every query covers a period `[since, until)` (either end may be open) of the rows' own times:
conversations by `started_at`, questions, tickets, handoffs and ratings by `created_at`. The
queries are aggregates; only the period's handoffs that have a first response or a resolution
time are read row by row (a median needs the values). `ReportQueries.period` runs all the
queries of one report in one session; the results are frozen dataclasses, like every
repository's. What the figures mean, and how they are rounded, is `helpdesk.reports.figures`.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Sequence

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import session_scope
from helpdesk.storage.enums import CsatKind, HandoffStatus
from helpdesk.storage.models import (
    HANDOFF_STATUSES,
    Conversation,
    CsatRating,
    DeskUser,
    Handoff,
    QuestionLog,
    Ticket,
)

#: A day of the daily series: `[start, end)`, timezone-aware.
DaySpan = tuple[datetime, datetime]


@dataclass(frozen=True)
class PeriodTotals:
    """Rows of the period per table.

    Attributes:
        conversations: Conversations started (one row per session start).
        conversations_with_handoff: Those that had a handoff (`PeriodReader.totals`).
        faq_answered: Knowledge-base questions the bot answered.
        faq_unanswered: Those it did not answer.
        tickets_created: Tickets created.
        handoffs: Handoffs requested.
    """

    conversations: int
    conversations_with_handoff: int
    faq_answered: int
    faq_unanswered: int
    tickets_created: int
    handoffs: int


@dataclass(frozen=True)
class RatingTotals:
    """Ratings of one kind given in the period: how many, and their mean (None without any)."""

    count: int
    average: float | None


@dataclass(frozen=True)
class RatingCount:
    """How many ratings of one kind and value were given in the period."""

    kind: str
    rating: int
    count: int


@dataclass(frozen=True)
class HandoffTimes:
    """The times of a handoff of the period that has a first response or has been resolved."""

    agent_id: int | None
    status: str
    created_at: datetime
    first_response_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class AgentActivity:
    """One agent's handoffs created in the period and agent ratings given in it.

    Attributes:
        agent_id: The desk user.
        name: Their display name (None when the desk user row is gone).
        assigned: Handoffs of the period held by the agent now or at their end.
        resolved: Those of them resolved.
        rating_count: Agent ratings given in the period of the agent's handoffs.
        rating_average: Their mean, None without any.
    """

    agent_id: int
    name: str | None
    assigned: int
    resolved: int
    rating_count: int
    rating_average: float | None


@dataclass(frozen=True)
class DayCounts:
    """Rows of one day of the daily series."""

    conversations: int
    handoffs: int
    faq_answered: int
    faq_unanswered: int


class ReportQueries(_Repository):
    """The reports' figures, read in one session per report."""

    @contextmanager
    def period(self, since: datetime | None, until: datetime | None) -> Iterator[PeriodReader]:
        """A reader of the period `[since, until)` over one session (closed on exit).

        Raises:
            ValueError: If `since` or `until` is naive.
        """
        _check_aware(since, "since")
        _check_aware(until, "until")
        with session_scope(self._sessions) as session:
            yield PeriodReader(session, since, until)


class PeriodReader:
    """The report queries of one period, over one open session (see `ReportQueries.period`)."""

    def __init__(self, session: Session, since: datetime | None, until: datetime | None) -> None:
        self._session = session
        self.since = since
        self.until = until

    def _window(self, stmt: Any, column: Any) -> Any:
        if self.since is not None:
            stmt = stmt.where(column >= self.since)
        if self.until is not None:
            stmt = stmt.where(column < self.until)
        return stmt

    def _count(self, model: Any, column: Any, *conditions: Any) -> int:
        stmt = self._window(select(func.count()).select_from(model), column)
        for condition in conditions:
            stmt = stmt.where(condition)
        return int(self._session.execute(stmt).scalar_one())

    def totals(self) -> PeriodTotals:
        """The period's rows per table.

        A conversation of sender S started at T had a handoff when a handoff of S was created
        at or after T, before S's next session start (or before the period end, when that
        comes first).
        """
        return PeriodTotals(
            conversations=self._count(Conversation, Conversation.started_at),
            conversations_with_handoff=self._conversations_with_handoff(),
            faq_answered=self._count(
                QuestionLog, QuestionLog.created_at, QuestionLog.answered.is_(True)
            ),
            faq_unanswered=self._count(
                QuestionLog, QuestionLog.created_at, QuestionLog.answered.is_(False)
            ),
            tickets_created=self._count(Ticket, Ticket.created_at),
            handoffs=self._count(Handoff, Handoff.created_at),
        )

    def _conversations_with_handoff(self) -> int:
        conv = aliased(Conversation, name="conv")
        later = aliased(Conversation, name="later")
        # A later session start of the same sender at or before the handoff claims the handoff.
        # Session starts at the same instant are ordered by id.
        later_start = (
            select(later.id)
            .where(
                later.sender_id == conv.sender_id,
                or_(
                    later.started_at > conv.started_at,
                    and_(later.started_at == conv.started_at, later.id > conv.id),
                ),
                later.started_at <= Handoff.created_at,
            )
            .correlate(conv, Handoff)
            .exists()
        )
        had_handoff = select(Handoff.id).where(
            Handoff.sender_id == conv.sender_id,
            Handoff.created_at >= conv.started_at,
            ~later_start,
        )
        if self.until is not None:
            had_handoff = had_handoff.where(Handoff.created_at < self.until)
        stmt = self._window(
            select(func.count()).select_from(conv).where(had_handoff.exists()), conv.started_at
        )
        return int(self._session.execute(stmt).scalar_one())

    def ratings(self, kind: str) -> RatingTotals:
        """The count and mean of the ratings of `kind` ("faq" or "agent") given in the period."""
        stmt = self._window(
            select(func.count(CsatRating.id), func.avg(CsatRating.rating)).where(
                CsatRating.kind == kind
            ),
            CsatRating.created_at,
        )
        n, average = self._session.execute(stmt).one()
        return RatingTotals(int(n), float(average) if n else None)

    def rating_counts(self) -> list[RatingCount]:
        """The ratings given in the period per kind and value (only pairs that occur)."""
        stmt = self._window(
            select(CsatRating.kind, CsatRating.rating, func.count()).group_by(
                CsatRating.kind, CsatRating.rating
            ),
            CsatRating.created_at,
        )
        return [
            RatingCount(str(kind), int(rating), int(n))
            for kind, rating, n in self._session.execute(stmt).all()
        ]

    def handoff_status_counts(self) -> dict[str, int]:
        """Handoffs created in the period by their current status (every status, 0 when none)."""
        stmt = self._window(
            select(Handoff.status, func.count()).group_by(Handoff.status), Handoff.created_at
        )
        counts = dict.fromkeys(HANDOFF_STATUSES, 0)
        for status, n in self._session.execute(stmt).all():
            counts[str(status)] = int(n)
        return counts

    def handoff_times(self) -> list[HandoffTimes]:
        """The period's handoffs with a first response or resolved with an end time."""
        stmt = self._window(
            select(
                Handoff.agent_id,
                Handoff.status,
                Handoff.created_at,
                Handoff.first_response_at,
                Handoff.ended_at,
            ).where(
                or_(
                    Handoff.first_response_at.is_not(None),
                    and_(Handoff.status == HandoffStatus.RESOLVED, Handoff.ended_at.is_not(None)),
                )
            ),
            Handoff.created_at,
        )
        return [
            HandoffTimes(agent_id, status, created, first_response_at, ended_at)
            for agent_id, status, created, first_response_at, ended_at in self._session.execute(
                stmt
            ).all()
        ]

    def agent_activity(self) -> list[AgentActivity]:
        """One row per agent with a handoff created or an agent rating given in the period.

        Ratings count through `csat_rating.handoff_id`: a rating without a handoff is in no
        agent's row. Sorted by agent id.
        """
        resolved = func.sum(case((Handoff.status == HandoffStatus.RESOLVED, 1), else_=0))
        handled_stmt = self._window(
            select(Handoff.agent_id, func.count(), resolved)
            .where(Handoff.agent_id.is_not(None))
            .group_by(Handoff.agent_id),
            Handoff.created_at,
        )
        rated_stmt = self._window(
            select(Handoff.agent_id, func.count(CsatRating.id), func.avg(CsatRating.rating))
            .join(Handoff, Handoff.id == CsatRating.handoff_id)
            .where(CsatRating.kind == CsatKind.AGENT, Handoff.agent_id.is_not(None))
            .group_by(Handoff.agent_id),
            CsatRating.created_at,
        )
        session = self._session
        handled = {int(a): (int(n), int(r or 0)) for a, n, r in session.execute(handled_stmt).all()}
        rated = {
            int(a): (int(n), float(avg) if n else None)
            for a, n, avg in session.execute(rated_stmt).all()
        }
        agent_ids = sorted(set(handled) | set(rated))
        if not agent_ids:
            return []
        names = {
            int(i): str(name)
            for i, name in session.execute(
                select(DeskUser.id, DeskUser.display_name).where(DeskUser.id.in_(agent_ids))
            ).all()
        }
        rows = []
        for agent_id in agent_ids:
            assigned, resolved_count = handled.get(agent_id, (0, 0))
            rating_count, rating_average = rated.get(agent_id, (0, None))
            rows.append(
                AgentActivity(
                    agent_id=agent_id,
                    name=names.get(agent_id),
                    assigned=assigned,
                    resolved=resolved_count,
                    rating_count=rating_count,
                    rating_average=rating_average,
                )
            )
        return rows

    def data_span(self) -> tuple[datetime | None, datetime | None]:
        """The earliest and latest times recorded in the tables of the daily series.

        All time, whatever the period: an open-ended daily series runs over this span.
        """
        lows, highs = [], []
        for column in (Conversation.started_at, QuestionLog.created_at, Handoff.created_at):
            low, high = self._session.execute(select(func.min(column), func.max(column))).one()
            if low is not None:
                lows.append(low)
                highs.append(high)
        return (min(lows), max(highs)) if lows else (None, None)

    def daily_counts(self, days: Sequence[DaySpan]) -> list[DayCounts]:
        """The rows of each day, in the order of `days` (consecutive spans, oldest first).

        Only the days' spans count, not the reader's period.
        """
        conversations = self._daily_counts(Conversation.started_at, days)
        handoffs = self._daily_counts(Handoff.created_at, days)
        questions = self._daily_counts(QuestionLog.created_at, days, split_by=QuestionLog.answered)
        answered: dict[int, int] = {}
        unanswered: dict[int, int] = {}
        for (i, was_answered), n in questions.items():
            target = answered if was_answered else unanswered
            target[i] = target.get(i, 0) + n
        return [
            DayCounts(
                conversations=conversations.get((i, None), 0),
                handoffs=handoffs.get((i, None), 0),
                faq_answered=answered.get(i, 0),
                faq_unanswered=unanswered.get(i, 0),
            )
            for i in range(len(days))
        ]

    def _daily_counts(
        self, column: Any, days: Sequence[DaySpan], *, split_by: Any = None
    ) -> dict[tuple[int, Any], int]:
        """Rows per day (and per `split_by` value) in one aggregate query.

        The day index is a CASE over the days' ends, computed in a subquery so that the
        GROUP BY names a plain column on every database.
        """
        if not days:
            return {}
        day_index = case(
            *[(column < end, i) for i, (_start, end) in enumerate(days)], else_=len(days) - 1
        ).label("day_index")
        inner_columns = [day_index]
        if split_by is not None:
            inner_columns.append(split_by.label("split"))
        inner = select(*inner_columns).where(column >= days[0][0], column < days[-1][1])
        sub = inner.subquery()
        keys = [sub.c.day_index] + ([sub.c.split] if split_by is not None else [])
        stmt = select(*keys, func.count()).group_by(*keys)
        result: dict[tuple[int, Any], int] = {}
        for row in self._session.execute(stmt).all():
            split = row[1] if split_by is not None else None
            result[(int(row[0]), split)] = int(row[-1])
        return result
