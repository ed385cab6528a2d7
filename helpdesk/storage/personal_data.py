"""One citizen's records in the helpdesk database: gathered for a copy (UU PDP Pasal 7) or
erased (Pasal 8), store by store as in the data map (`helpdesk.privacy.policy.DATA_MAP`).

A citizen is their sender id (the WhatsApp number, the Telegram chat, the web chat session)
and, when verified, an e-mail address (tickets filed from another session with it). Erasure
deletes what only describes them and anonymises what also feeds the figures (as the
retention job does: `helpdesk.storage.retention`), in one transaction; stores listed as
exempt (kept for state administration) are left as they are.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import delete, or_, select, update

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import (
    BroadcastConsent,
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
    Ticket,
)
from helpdesk.storage.retention import ANONYMOUS, REDACTED, _masked


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _row(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: _iso(getattr(row, name)) for name in fields}


class PersonalDataRepository(_Repository):
    """Gather or erase one citizen's records in the helpdesk database."""

    def gather(self, sender_id: str, email: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Every record of the citizen, store by store (the copy they may ask for)."""
        with session_scope(self._sessions) as session:

            def rows(stmt: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
                return [_row(row, fields) for row in session.scalars(stmt)]

            tickets = rows(
                select(Ticket)
                .where(self._tickets_of(sender_id, email))
                .order_by(Ticket.created_at),
                ("id", "subject", "chronology", "attachment", "email", "status", "public_reply")
                + ("channel", "created_at", "updated_at"),
            )
            handoffs = list(
                session.scalars(
                    select(Handoff).where(Handoff.sender_id == sender_id).order_by(Handoff.id)
                )
            )
            handoff_ids = [h.id for h in handoffs]
            messages = (
                rows(
                    select(HandoffMessage)
                    .where(HandoffMessage.handoff_id.in_(handoff_ids))
                    .order_by(HandoffMessage.id),
                    ("handoff_id", "text", "status", "created_at", "sent_at"),
                )
                if handoff_ids
                else []
            )
            return {
                "ticket": tickets,
                "handoff": [
                    _row(h, ("id", "channel", "status", "name", "question", "category"))
                    | {"created_at": _iso(h.created_at), "ended_at": _iso(h.ended_at)}
                    for h in handoffs
                ],
                "handoff_message": messages,
                "question_log": rows(
                    select(QuestionLog)
                    .where(QuestionLog.sender_id == sender_id)
                    .order_by(QuestionLog.id),
                    ("question", "answered", "faq_id", "created_at"),
                ),
                "csat_rating": rows(
                    select(CsatRating)
                    .where(CsatRating.sender_id == sender_id)
                    .order_by(CsatRating.id),
                    ("rating", "kind", "question", "faq_id", "created_at"),
                ),
                "conversation": rows(
                    select(Conversation)
                    .where(Conversation.sender_id == sender_id)
                    .order_by(Conversation.id),
                    ("channel", "started_at"),
                ),
                "contact": rows(
                    select(Contact).where(Contact.sender_id == sender_id),
                    ("channel", "name", "notes", "tags", "updated_at"),
                ),
                "broadcast_recipient": rows(
                    select(BroadcastRecipient)
                    .where(BroadcastRecipient.phone == sender_id)
                    .order_by(BroadcastRecipient.id),
                    ("name", "variables", "status", "sent_at", "delivered_at", "read_at"),
                ),
                "broadcast_consent": rows(
                    select(BroadcastConsent).where(BroadcastConsent.phone == sender_id),
                    ("opted_in_at", "opted_in_source", "opted_out_at"),
                ),
                "flow_submission": rows(
                    select(FlowSubmission)
                    .where(FlowSubmission.sender_id == sender_id)
                    .order_by(FlowSubmission.id),
                    ("flow_title", "data", "outcome", "created_at"),
                ),
            }

    @staticmethod
    def _tickets_of(sender_id: str, email: str | None) -> Any:
        if email:
            return or_(Ticket.sender_id == sender_id, Ticket.email == email)
        return Ticket.sender_id == sender_id

    def erase(
        self, sender_id: str, email: str | None = None, *, exempt: Iterable[str] = ()
    ) -> dict[str, int]:
        """Delete or anonymise every record of the citizen outside the `exempt` stores, in one
        transaction; how many records each store changed."""
        kept = set(exempt)

        def work() -> dict[str, int]:
            done: dict[str, int] = {}
            with session_scope(self._sessions) as session:

                def run(store: str, stmt: Any) -> None:
                    if store in kept:
                        return
                    result = session.execute(stmt.execution_options(synchronize_session=False))
                    done[store] = done.get(store, 0) + int(result.rowcount or 0)

                handoff_ids = select(Handoff.id).where(Handoff.sender_id == sender_id)
                run(
                    "handoff_message",
                    delete(HandoffMessage).where(HandoffMessage.handoff_id.in_(handoff_ids)),
                )
                run(
                    "handoff",
                    update(Handoff)
                    .where(Handoff.sender_id == sender_id)
                    .values(sender_id=ANONYMOUS, name=None, question=None, request_key=None),
                )
                if "ticket" not in kept:
                    tickets = list(
                        session.scalars(select(Ticket).where(self._tickets_of(sender_id, email)))
                    )
                    for ticket in tickets:
                        ticket.sender_id = ANONYMOUS
                        ticket.email = None
                        ticket.attachment = None
                        ticket.chronology = REDACTED
                        ticket.subject = _masked(ticket.subject)
                        ticket.public_reply = _masked(ticket.public_reply)
                    done["ticket"] = len(tickets)
                for store, model in (("question_log", QuestionLog), ("csat_rating", CsatRating)):
                    if store in kept:
                        continue
                    rows = list(session.scalars(select(model).where(model.sender_id == sender_id)))
                    for row in rows:
                        row.sender_id = ANONYMOUS
                        row.question = _masked(row.question)
                        if model is CsatRating:
                            row.submission_key = None
                    done[store] = len(rows)
                run(
                    "conversation",
                    update(Conversation)
                    .where(Conversation.sender_id == sender_id)
                    .values(sender_id=ANONYMOUS),
                )
                run("contact", delete(Contact).where(Contact.sender_id == sender_id))
                run(
                    "flow_submission",
                    delete(FlowSubmission).where(FlowSubmission.sender_id == sender_id),
                )
                run(
                    "broadcast_recipient",
                    delete(BroadcastRecipient).where(BroadcastRecipient.phone == sender_id),
                )
                # An opt-out is kept (so no later upload reaches the number); an opt-in goes.
                run(
                    "broadcast_consent",
                    delete(BroadcastConsent).where(
                        BroadcastConsent.phone == sender_id,
                        BroadcastConsent.opted_out_at.is_(None),
                    ),
                )
                run(
                    "broadcast_consent",
                    update(BroadcastConsent)
                    .where(BroadcastConsent.phone == sender_id)
                    .values(opted_in_at=None, opted_in_source=None),
                )
                run("idle_closure", delete(IdleClosure).where(IdleClosure.sender_id == sender_id))
                run(
                    "inbound_message",
                    delete(InboundMessage).where(InboundMessage.sender == sender_id),
                )
            return done

        return retry_on_locked(work)
