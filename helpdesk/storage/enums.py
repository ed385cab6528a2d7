"""The closed sets of strings the helpdesk tables store: statuses, roles and kinds.

Each set is a string enum whose members *are* their stored values: `HandoffStatus.WAITING ==
"waiting"`, with the same hash, so a member can be compared with a column, looked up in a dict
keyed by the plain strings, bound as a query parameter or written to a row, and a plain string
read from the database compares equal to the member. `str()`, f-strings, `%s`, Jinja and JSON
all give the bare value ("waiting"), never "HandoffStatus.WAITING". The columns keep their
string values and CHECK constraints (`helpdesk.storage.models`); no migration is involved.

The storage layer needs every one of them (it filters and writes by status), so they live
here, below the services; the modules above re-export theirs (`helpdesk.handoff.service`:
`HandoffStatus` and `OutboxStatus`; `helpdesk.tickets.service`: `TicketStatus`;
`helpdesk.desk.auth`: `DeskRole`). The tuples of plain values (`TICKET_STATUSES`,
`HANDOFF_STATUSES`, `DESK_ROLES`, ...) stay in `helpdesk.storage.models`.
"""

from __future__ import annotations

import enum


class StrEnum(str, enum.Enum):
    """A string enum whose members format as their value (Python 3.10 has no `enum.StrEnum`).

    A plain `(str, enum.Enum)` member already equals its value and hashes like it, but
    `str()` gives "Class.MEMBER"; that is what Jinja, `%s` logging and `str.join` use.
    """

    def __str__(self) -> str:
        return str(self.value)


class TicketStatus(StrEnum):
    """A ticket's status, in workflow order (column `ticket.status`)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class CsatKind(StrEnum):
    """What a satisfaction rating is about (column `csat_rating.kind`; slot `csat_kind`)."""

    #: An FAQ answer of the bot.
    FAQ = "faq"
    #: A human agent's help (after a resolved handoff).
    AGENT = "agent"


class InboundMessageStatus(StrEnum):
    """An inbound channel message: claimed for processing, or fully processed."""

    RECEIVED = "received"
    DONE = "done"


class HandoffStatus(StrEnum):
    """A handoff's status (column `handoff.status`).

    Waiting in the queue, assigned to an agent, resolved by the agent, cancelled by the
    citizen ("batal"), or expired (nobody took it: it became a ticket).
    """

    WAITING = "waiting"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class DeskRole(StrEnum):
    """The role of an agent desk user (column `desk_user.role`)."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    #: A knowledge manager: curates and publishes the knowledge base, sees no conversations.
    KNOWLEDGE = "knowledge"


class OutboxStatus(StrEnum):
    """An agent's reply on its way to the citizen (column `handoff_message.status`)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class IdleClosureStatus(StrEnum):
    """The sweeper's closing of an idle conversation (column `idle_closure.status`)."""

    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


class FaqVersionStatus(StrEnum):
    """A version of an FAQ entry (column `faq_version.status`).

    A draft is edited until a supervisor or knowledge manager publishes it (or discards it);
    publishing makes the entry's published version superseded. At most one draft and one
    published version per entry.
    """

    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    DISCARDED = "discarded"


class QuestionSource(StrEnum):
    """Where a question of the knowledge managers' inbox comes from (`question_triage.source`)."""

    #: A question the assistant declined, or whose answer the citizen said "Tidak" to.
    QUESTION_LOG = "question_log"
    #: A conversation handed to an officer (`handoff.question`).
    HANDOFF = "handoff"
    #: A ticket (`ticket.subject`).
    TICKET = "ticket"


class TriageOutcome(StrEnum):
    """What a knowledge manager did with a question of the inbox (`question_triage.outcome`)."""

    #: Added as an alternative of an entry (in a draft).
    ADDED = "added"
    #: Taken into a new draft entry.
    DRAFTED = "drafted"
    #: Set aside: not a question for the knowledge base.
    DISMISSED = "dismissed"


class BroadcastStatus(StrEnum):
    """A broadcast's status (column `broadcast.status`), in workflow order.

    A draft is uploaded and previewed; "scheduled" waits for its time; "sending" is picked up
    by the broadcast sender (again after a crash); "paused" stops it until a supervisor
    resumes it (also set by the sender when the platform refuses the credentials); "done"
    when no recipient is left to send; "cancelled" by a supervisor (unsent recipients stay
    unsent).
    """

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


class RecipientStatus(StrEnum):
    """One recipient of a broadcast (column `broadcast_recipient.status`).

    "pending" waits its turn; "sending" is claimed by the sender just before the request to
    the platform (a crash leaves it there: it is sent again only when the platform's status
    callbacks prove the request never arrived, see `helpdesk.broadcasts.sender`); "sent" the
    platform accepted it; "delivered"/"read" from its status callbacks; "failed" refused by the
    platform (or never confirmed); "opted_out" skipped: the number sent BERHENTI/STOP.
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    OPTED_OUT = "opted_out"
