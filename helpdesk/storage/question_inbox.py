"""Repository of the knowledge managers' questions inbox: what citizens asked that the
knowledge base did not settle, and what the knowledge managers did with it.

The inbox reads three sources, each question once: the question log's unanswered questions
and answers the citizen said "Tidak" to, the handoffs' questions (with the officer's reply)
and the tickets' subjects. A question leaves the inbox when a knowledge manager deals with it
(`question_triage`: added as an alternative, taken into a draft, dismissed). A dismissed
group's centroid is kept (`question_group_dismissal`), so later questions of the same meaning
stay out too (`helpdesk.knowledge.inbox`).

Texts go out with identifiers masked (NIK, NIP, phone, account numbers, e-mail addresses): a
knowledge manager needs the wording, not the citizen's numbers.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import numpy as np
from sqlalchemy import String, and_, cast, func, select
from sqlalchemy.exc import IntegrityError

from helpdesk.security.masking import mask_identifiers
from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import QuestionSource, TriageOutcome
from helpdesk.storage.models import (
    DismissedGroup,
    Handoff,
    HandoffMessage,
    QuestionLog,
    QuestionTriage,
    Ticket,
    utcnow,
)

#: The reasons a question is in the inbox, with the desk's labels.
REASONS = {
    "unanswered": "Tidak terjawab",
    "rejected": "Dijawab \u201cTidak\u201d",
    "handoff": "Diteruskan ke petugas",
    "ticket": "Menjadi tiket",
}


@dataclass(frozen=True)
class InboxQuestion:
    """One question of the inbox.

    Attributes:
        ref: Its reference in forms: "question_log:12", "handoff:3", "ticket:20260414-DBKSWU".
        text: The question, identifiers masked.
        reason: Why it is in the inbox (`REASONS`).
        asked_at: When it was asked.
        faq_id: The entry the citizen said "Tidak" to (reason "rejected").
        agent_reply: The officer's reply in a handoff (the longest one), masked.
    """

    ref: str
    text: str
    reason: str
    asked_at: datetime
    faq_id: str | None = None
    agent_reply: str | None = None

    @property
    def source(self) -> str:
        return self.ref.split(":", 1)[0]

    @property
    def source_id(self) -> str:
        return self.ref.split(":", 1)[1]


@dataclass(frozen=True)
class DismissedCentroid:
    """A dismissed group: its label, size and centroid (by the embedder `model`)."""

    id: int
    label: str
    size: int
    model: str
    centroid: np.ndarray


def parse_ref(ref: str) -> tuple[str, str] | None:
    """(source, source id) of a question reference, or None when it is not one."""
    source, _, source_id = str(ref).partition(":")
    if source not in {s.value for s in QuestionSource} or not source_id or len(source_id) > 64:
        return None
    return source, source_id


def _vector_text(vector: np.ndarray) -> str:
    raw = np.ascontiguousarray(vector, dtype="<f4").tobytes()
    return base64.b64encode(raw).decode("ascii")


def _vector_of(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


class QuestionInboxRepository(_Repository):
    """The inbox's questions, their triage, and the dismissed groups."""

    def open_questions(self, *, since: datetime, limit: int = 2000) -> list[InboxQuestion]:
        """The questions asked at or after `since` that nobody dealt with yet, newest first,
        at most `limit` of them (over all sources)."""
        _check_aware(since, "since")
        if limit <= 0:
            raise ValueError("limit must be > 0")
        with session_scope(self._sessions) as session:
            found: list[InboxQuestion] = []
            logged = (
                select(
                    QuestionLog.id, QuestionLog.question, QuestionLog.faq_id, QuestionLog.created_at
                )
                .outerjoin(QuestionTriage, _triaged(QuestionSource.QUESTION_LOG, QuestionLog.id))
                .where(
                    QuestionLog.answered.is_(False),
                    QuestionLog.created_at >= since,
                    QuestionTriage.id.is_(None),
                )
                .order_by(QuestionLog.created_at.desc())
                .limit(limit)
            )
            for row_id, text, faq_id, at in session.execute(logged):
                found.append(
                    InboxQuestion(
                        ref=f"{QuestionSource.QUESTION_LOG}:{row_id}",
                        text=mask_identifiers(text or "").strip(),
                        reason="rejected" if faq_id else "unanswered",
                        asked_at=at,
                        faq_id=faq_id,
                    )
                )
            handed = (
                select(Handoff.id, Handoff.question, Handoff.created_at)
                .outerjoin(QuestionTriage, _triaged(QuestionSource.HANDOFF, Handoff.id))
                .where(
                    Handoff.question.is_not(None),
                    Handoff.created_at >= since,
                    QuestionTriage.id.is_(None),
                )
                .order_by(Handoff.created_at.desc())
                .limit(limit)
            )
            handoffs = list(session.execute(handed))
            replies = _longest_replies(session, [row[0] for row in handoffs])
            for row_id, text, at in handoffs:
                reply = replies.get(row_id)
                found.append(
                    InboxQuestion(
                        ref=f"{QuestionSource.HANDOFF}:{row_id}",
                        text=mask_identifiers(text or "").strip(),
                        reason="handoff",
                        asked_at=at,
                        agent_reply=mask_identifiers(reply) if reply else None,
                    )
                )
            ticketed = (
                select(Ticket.id, Ticket.subject, Ticket.created_at)
                .outerjoin(QuestionTriage, _triaged(QuestionSource.TICKET, Ticket.id))
                .where(Ticket.created_at >= since, QuestionTriage.id.is_(None))
                .order_by(Ticket.created_at.desc())
                .limit(limit)
            )
            for row_id, text, at in session.execute(ticketed):
                found.append(
                    InboxQuestion(
                        ref=f"{QuestionSource.TICKET}:{row_id}",
                        text=mask_identifiers(text or "").strip(),
                        reason="ticket",
                        asked_at=at,
                    )
                )
        found = [q for q in found if q.text]
        found.sort(key=lambda q: q.asked_at, reverse=True)
        return found[:limit]

    def triage(
        self,
        refs: Iterable[str],
        outcome: TriageOutcome,
        *,
        actor: str,
        faq_slug: str | None = None,
    ) -> int:
        """Mark the questions `refs` dealt with; returns how many were not marked before."""
        keys = list(dict.fromkeys(k for k in (parse_ref(r) for r in refs) if k is not None))

        def work() -> int:
            done = 0
            for source, source_id in keys:
                try:
                    with session_scope(self._sessions) as session:
                        session.add(
                            QuestionTriage(
                                source=source,
                                source_id=source_id,
                                outcome=str(outcome),
                                faq_slug=faq_slug,
                                actor=actor,
                                created_at=utcnow(),
                            )
                        )
                        session.flush()
                    done += 1
                except IntegrityError:  # dealt with before (another tab, another manager)
                    continue
            return done

        return retry_on_locked(work)

    def dismiss_group(
        self, *, label: str, size: int, model: str, centroid: np.ndarray, actor: str
    ) -> None:
        """Keep a dismissed group's centroid (its questions are triaged separately)."""

        def work() -> None:
            with session_scope(self._sessions) as session:
                session.add(
                    DismissedGroup(
                        label=label[:500],
                        size=int(size),
                        model=model,
                        centroid=_vector_text(centroid),
                        actor=actor,
                        created_at=utcnow(),
                    )
                )

        retry_on_locked(work)

    def dismissed_groups(self, model: str) -> list[DismissedCentroid]:
        """The dismissed groups whose centroid the embedder `model` made, oldest first."""
        stmt = (
            select(DismissedGroup).where(DismissedGroup.model == model).order_by(DismissedGroup.id)
        )
        with session_scope(self._sessions) as session:
            return [
                DismissedCentroid(row.id, row.label, row.size, row.model, _vector_of(row.centroid))
                for row in session.scalars(stmt)
            ]

    def triaged_count(self, *, since: datetime) -> dict[str, int]:
        """How many questions were dealt with since `since`, by outcome."""
        _check_aware(since, "since")
        stmt = (
            select(QuestionTriage.outcome, func.count(QuestionTriage.id))
            .where(QuestionTriage.created_at >= since)
            .group_by(QuestionTriage.outcome)
        )
        with session_scope(self._sessions) as session:
            return {str(outcome): int(n) for outcome, n in session.execute(stmt)}


def _triaged(source: QuestionSource, column) -> object:
    """The join condition of a source's rows with their triage row."""
    return and_(
        QuestionTriage.source == str(source),
        QuestionTriage.source_id == cast(column, String(64)),
    )


def _longest_replies(session, handoff_ids: list[int]) -> dict[int, str]:
    """The longest officer reply of each handoff (the answer, rather than "Selamat siang")."""
    replies: dict[int, str] = {}
    for start in range(0, len(handoff_ids), 500):
        chunk = handoff_ids[start : start + 500]
        stmt = select(HandoffMessage.handoff_id, HandoffMessage.text).where(
            HandoffMessage.handoff_id.in_(chunk)
        )
        for handoff_id, text in session.execute(stmt):
            if text and len(text) > len(replies.get(handoff_id, "")):
                replies[handoff_id] = text
    return replies
