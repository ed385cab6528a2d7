"""What citizens tell about the answers: satisfaction ratings and the question log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Collection

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from helpdesk.security.masking import mask_identifiers
from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import CsatKind
from helpdesk.storage.models import CSAT_KINDS, CsatRating, QuestionLog, utcnow


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
        submission_key: str | None = None,
    ) -> bool:
        """Store one rating (`handoff_id`: the handoff an "agent" rating is about).

        Args:
            submission_key: The run of the rating form this rating ends
                (`helpdesk.tickets.service.form_submission_key`): a second rating with the same
                key (Rasa ran the turn again after a crash) is not stored.

        Returns:
            True when stored, False when a rating with `submission_key` was stored before.

        Raises:
            ValueError: For a rating outside 1-5 or an unknown kind.
        """
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValueError(f"rating must be an integer from 1 to 5, got {rating!r}")
        if kind not in CSAT_KINDS:
            raise ValueError(f"unknown rating kind {kind!r}; expected one of {CSAT_KINDS}")

        def work() -> bool:
            try:
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
                            submission_key=submission_key,
                        )
                    )
                    session.flush()
            except IntegrityError:
                if submission_key is None:
                    raise
                return False
            return True

        return retry_on_locked(work)

    def agent_rated(self, handoff_id: int) -> bool:
        """Whether the agent's service in this handoff has a rating already."""
        with session_scope(self._sessions) as session:
            found = session.scalar(
                select(CsatRating.id)
                .where(CsatRating.handoff_id == handoff_id, CsatRating.kind == CsatKind.AGENT)
                .limit(1)
            )
            return found is not None


@dataclass(frozen=True)
class FaqFigures:
    """How one FAQ entry fares with citizens.

    Attributes:
        answered: Times the assistant answered with it.
        rejected: Times a citizen said "Tidak" (not the answer they needed).
        ratings: Ratings given after a "Ya", and their average (None without any).
        last_asked: When it was last answered with or rejected.
    """

    answered: int = 0
    rejected: int = 0
    ratings: int = 0
    rating_average: float | None = None
    last_asked: datetime | None = None

    @property
    def yes_rate(self) -> float | None:
        """Of the citizens who said "Ya" (and rated) or "Tidak", the share of "Ya"."""
        said = self.ratings + self.rejected
        return self.ratings / said if said else None


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

    def unanswered_since(self, since: datetime, *, limit: int = 2000) -> list[str]:
        """The questions the assistant declined since `since` (not those answered "Tidak"),
        newest first, at most `limit`."""
        _check_aware(since, "since")
        stmt = (
            select(QuestionLog.question)
            .where(
                QuestionLog.answered.is_(False),
                QuestionLog.faq_id.is_(None),
                QuestionLog.created_at >= since,
            )
            .order_by(QuestionLog.created_at.desc())
            .limit(limit)
        )
        with session_scope(self._sessions) as session:
            return [str(q) for q in session.scalars(stmt)]

    def figures_by_faq(self, faq_ids: Collection[str] | None = None) -> dict[str, FaqFigures]:
        """Each FAQ entry's figures (`FaqFigures`), by entry id, of every entry or of
        `faq_ids`; entries never asked are absent."""
        answered = func.sum(case((QuestionLog.answered.is_(True), 1), else_=0))
        rejected = func.sum(case((QuestionLog.answered.is_(False), 1), else_=0))
        asked = (
            select(
                QuestionLog.faq_id,
                answered,
                rejected,
                func.max(QuestionLog.created_at),
            )
            .where(QuestionLog.faq_id.is_not(None))
            .group_by(QuestionLog.faq_id)
        )
        if faq_ids is not None:
            asked = asked.where(QuestionLog.faq_id.in_(list(faq_ids)))
        rated = (
            select(CsatRating.faq_id, func.count(CsatRating.id), func.avg(CsatRating.rating))
            .where(CsatRating.kind == CsatKind.FAQ, CsatRating.faq_id.is_not(None))
            .group_by(CsatRating.faq_id)
        )
        if faq_ids is not None:
            rated = rated.where(CsatRating.faq_id.in_(list(faq_ids)))
        with session_scope(self._sessions) as session:
            ratings: dict[str, tuple[int, float | None]] = {
                faq: (int(n), float(avg)) for faq, n, avg in session.execute(rated)
            }
            figures = {}
            for faq, yes, no, last in session.execute(asked):
                count, average = ratings.pop(faq, (0, None))
                figures[faq] = FaqFigures(int(yes or 0), int(no or 0), count, average, last)
        for faq, (n, avg) in ratings.items():
            figures[faq] = FaqFigures(ratings=n, rating_average=avg)
        return figures
