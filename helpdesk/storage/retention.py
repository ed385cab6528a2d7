"""The retention job's SQL on the helpdesk store: count, delete or anonymise, in batches, the
records of one store (`helpdesk.privacy.policy.DATA_MAP`) older than a cut-off.

Each store is a `RetentionRule`: its table, the time that ages a record, which records may go
(a handoff still open, a ticket still worked on or a delivery not yet handled never do), and
for anonymised stores what is cleared. An anonymised record's sender becomes `ANONYMOUS` (its
marker: it is not taken again) and identifiers left in its text are masked. One batch is one
unit of work, so a job stopped halfway keeps what it did and the next run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import InboundMessageStatus, RecipientStatus, TicketStatus
from helpdesk.storage.models import (
    HANDOFF_OPEN_STATUSES,
    Broadcast,
    BroadcastRecipient,
    Contact,
    Conversation,
    CsatRating,
    FlowSubmission,
    Handoff,
    HandoffMessage,
    IdleClosure,
    InboundMessage,
    QuestionLog,
    SentReply,
    Ticket,
)

#: The sender id of an anonymised record.
ANONYMOUS = "anonim"
#: What an anonymised ticket's chronology says.
REDACTED = "[dihapus: masa retensi data berakhir]"


@dataclass(frozen=True)
class RetentionRule:
    """How one store ages and goes."""

    model: Any
    aged_by: Any
    #: Only records these conditions allow go (e.g. not an open handoff).
    only: tuple[ColumnElement, ...] = ()
    #: Anonymise: column name -> new value, or a function of the old value (None: delete).
    anonymise: dict[str, Any] | None = None
    #: The condition of a record not yet anonymised.
    pending: Callable[[Any], ColumnElement] | None = None

    def condition(self, cutoff: datetime) -> ColumnElement:
        parts = [self.aged_by < cutoff, *self.only]
        if self.pending is not None:
            parts.append(self.pending(self.model))
        return and_(*parts)


def _masked(value: Any) -> Any:
    from helpdesk.security.masking import mask_identifiers

    return mask_identifiers(value) if isinstance(value, str) else value


def _not_anonymous(model: Any) -> ColumnElement:
    return or_(model.sender_id.is_(None), model.sender_id != ANONYMOUS)


RULES: dict[str, RetentionRule] = {
    "flow_submission": RetentionRule(FlowSubmission, FlowSubmission.created_at),
    "handoff_message": RetentionRule(
        HandoffMessage, HandoffMessage.created_at, only=(HandoffMessage.status != "pending",)
    ),
    "handoff": RetentionRule(
        Handoff,
        Handoff.created_at,
        only=(Handoff.status.notin_(HANDOFF_OPEN_STATUSES),),
        anonymise={"sender_id": ANONYMOUS, "name": None, "question": None, "request_key": None},
        pending=lambda m: m.sender_id != ANONYMOUS,
    ),
    "ticket": RetentionRule(
        Ticket,
        Ticket.updated_at,
        only=(Ticket.status.in_((TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)),),
        anonymise={
            "sender_id": ANONYMOUS,
            "email": None,
            "attachment": None,
            "chronology": REDACTED,
            "subject": _masked,
            "public_reply": _masked,
        },
        pending=_not_anonymous,
    ),
    "question_log": RetentionRule(
        QuestionLog,
        QuestionLog.created_at,
        anonymise={"sender_id": ANONYMOUS, "question": _masked},
        pending=lambda m: m.sender_id != ANONYMOUS,
    ),
    "csat_rating": RetentionRule(
        CsatRating,
        CsatRating.created_at,
        anonymise={"sender_id": ANONYMOUS, "question": _masked, "submission_key": None},
        pending=lambda m: m.sender_id != ANONYMOUS,
    ),
    "conversation": RetentionRule(
        Conversation,
        Conversation.started_at,
        anonymise={"sender_id": ANONYMOUS},
        pending=lambda m: m.sender_id != ANONYMOUS,
    ),
    "contact": RetentionRule(Contact, Contact.updated_at),
    "idle_closure": RetentionRule(IdleClosure, IdleClosure.last_user_at),
    "inbound_message": RetentionRule(
        InboundMessage,
        InboundMessage.received_at,
        only=(InboundMessage.status == InboundMessageStatus.DONE.value,),
    ),
    "sent_reply": RetentionRule(SentReply, SentReply.sent_at),
    # Aged by their broadcast's creation; never while they may still be sent.
    "broadcast_recipient": RetentionRule(
        BroadcastRecipient,
        select(Broadcast.created_at)
        .where(Broadcast.id == BroadcastRecipient.broadcast_id)
        .scalar_subquery(),
        only=(
            BroadcastRecipient.status.notin_(
                (RecipientStatus.PENDING.value, RecipientStatus.SENDING.value)
            ),
        ),
    ),
}


class RetentionRepository(_Repository):
    """Count and carry out the retention of the helpdesk store's records (`RULES`)."""

    rules = RULES

    def due(self, store: str, cutoff: datetime) -> int:
        """How many records of `store` are past `cutoff` and not yet dealt with."""
        _check_aware(cutoff, "cutoff")
        rule = self.rules[store]
        stmt = select(func.count()).select_from(rule.model).where(rule.condition(cutoff))
        with session_scope(self._sessions) as session:
            return int(session.scalar(stmt) or 0)

    def purge_batch(self, store: str, cutoff: datetime, *, batch: int = 500) -> int:
        """Delete or anonymise up to `batch` records of `store` past `cutoff`; how many."""
        _check_aware(cutoff, "cutoff")
        rule = self.rules[store]
        key = rule.model.__mapper__.primary_key[0]

        def work() -> int:
            with session_scope(self._sessions) as session:
                ids = list(
                    session.scalars(
                        select(key).where(rule.condition(cutoff)).order_by(key).limit(batch)
                    )
                )
                if not ids:
                    return 0
                if rule.anonymise is None:
                    session.execute(
                        delete(rule.model)
                        .where(key.in_(ids))
                        .execution_options(synchronize_session=False)
                    )
                    return len(ids)
                computed = {k: v for k, v in rule.anonymise.items() if callable(v)}
                fixed = {k: v for k, v in rule.anonymise.items() if not callable(v)}
                if not computed:
                    session.execute(
                        update(rule.model)
                        .where(key.in_(ids))
                        .values(**fixed)
                        .execution_options(synchronize_session=False)
                    )
                    return len(ids)
                for row in session.scalars(select(rule.model).where(key.in_(ids))):
                    for name, change in computed.items():
                        setattr(row, name, change(getattr(row, name)))
                    for name, value in fixed.items():
                        setattr(row, name, value)
                return len(ids)

        return retry_on_locked(work)
