"""The tables of the helpdesk store: tickets, ratings, questions, conversations, the agent
desk, handoffs, inbound deliveries and the reply ledger, idle closures, rate limits, button
payloads.

Table names are singular, times end in `_at` and are timezone-aware UTC (`UTCDateTime`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
)

from helpdesk.storage.enums import (
    CsatKind,
    DeskRole,
    HandoffStatus,
    IdleClosureStatus,
    InboundMessageStatus,
    OutboxStatus,
    TicketStatus,
)
from helpdesk.storage.models.columns import (
    Base,
    CleanString,
    CleanText,
    UTCDateTime,
    one_of,
    utcnow,
)

#: Ticket status codes, in workflow order (the values of `TicketStatus`).
TICKET_STATUSES = tuple(status.value for status in TicketStatus)
#: Kinds of satisfaction rating: after an FAQ answer, or after a human agent's help.
CSAT_KINDS = tuple(kind.value for kind in CsatKind)
#: States of an inbound channel message: claimed for processing, or fully processed.
INBOUND_MESSAGE_STATUSES = tuple(status.value for status in InboundMessageStatus)

class Ticket(Base):
    """A citizen's ticket, id `YYYYMMDD-XXXXXX`."""

    __tablename__ = "ticket"

    id = Column(CleanString(15), primary_key=True)
    subject = Column(CleanString(255), nullable=False)
    chronology = Column(CleanText, nullable=False)
    attachment = Column(CleanString(1024), nullable=True)
    # None when the citizen is reached on their channel (e.g. an offline message on WhatsApp).
    email = Column(CleanString(320), nullable=True)
    status = Column(CleanString(20), nullable=False, default=TicketStatus.OPEN)
    public_reply = Column(CleanText, nullable=True)
    sender_id = Column(CleanString(255), nullable=True, index=True)
    channel = Column(CleanString(64), nullable=True)
    # Who works on it: agents see the tickets of their division and those assigned to them;
    # supervisors and admins see every ticket (and set these two on the desk).
    division_id = Column(
        Integer, ForeignKey("division.id", ondelete="SET NULL"), nullable=True, index=True
    )
    assignee_id = Column(
        Integer, ForeignKey("desk_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # The status the citizen was last told about on their channel (None: the one a new ticket
    # has, "open"); the desk worker tells them when `status` differs.
    notified_status = Column(CleanString(20), nullable=True)

    __table_args__ = (CheckConstraint(one_of("status", TicketStatus), name="status_valid"),)


class CsatRating(Base):
    """A 1-5 satisfaction rating, for an FAQ answer or for an agent's help."""

    __tablename__ = "csat_rating"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(CleanString(255), nullable=False, index=True)
    rating = Column(Integer, nullable=False)
    kind = Column(CleanString(16), nullable=False, default=CsatKind.FAQ)
    question = Column(CleanText, nullable=True)
    faq_id = Column(CleanString(255), nullable=True)
    # For kind "agent": the handoff rated (and through it, the agent).
    handoff_id = Column(Integer, nullable=True, index=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    # One run of the rating form stores one rating, also when a crash makes Rasa run it again
    # (`helpdesk.tickets.service.form_submission_key`); None for ratings stored without one.
    submission_key = Column(CleanString(255), nullable=True)

    __table_args__ = (
        CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),
        CheckConstraint(one_of("kind", CsatKind), name="kind_valid"),
        Index("uq_csat_rating_submission_key", "submission_key", unique=True),
    )


class QuestionLog(Base):
    """Every question put to the knowledge base, answered or not."""

    __tablename__ = "question_log"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(CleanString(255), nullable=False, index=True)
    question = Column(CleanText, nullable=False)
    answered = Column(Boolean(create_constraint=False), nullable=False)
    faq_id = Column(CleanString(255), nullable=True)
    score = Column(Float, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class Conversation(Base):
    """One row per conversation session start."""

    __tablename__ = "conversation"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(CleanString(255), nullable=False, index=True)
    channel = Column(CleanString(64), nullable=True)
    started_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


#: Handoff statuses in which a human agent holds (or is about to hold) the conversation.
HANDOFF_OPEN_STATUSES = (HandoffStatus.WAITING.value, HandoffStatus.ASSIGNED.value)
#: Every handoff status: waiting in the queue, assigned to an agent, resolved by the agent,
#: cancelled by the citizen ("batal"), or expired (nobody took it: it became a ticket).
HANDOFF_STATUSES = tuple(status.value for status in HandoffStatus)
#: Roles of the agent desk's users.
DESK_ROLES = tuple(role.value for role in DeskRole)
#: States of an agent's reply on its way to the citizen.
OUTBOX_STATUSES = tuple(status.value for status in OutboxStatus)


class Division(Base):
    """A team of agents (e.g. "Tim SAKTI"); `categories` are the FAQ categories it serves."""

    __tablename__ = "division"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(CleanString(100), nullable=False, unique=True)
    # Comma-separated FAQ categories (e.g. "SAKTI,DIGIT"): a handoff whose last FAQ tried is
    # in one of them goes to this division's agents first.
    categories = Column(CleanText, nullable=False, default="")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class DeskUser(Base):
    """A user of the agent desk: an agent, a supervisor or an admin."""

    __tablename__ = "desk_user"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(CleanString(64), nullable=False, unique=True)
    display_name = Column(CleanString(128), nullable=False)
    password_hash = Column(CleanString(255), nullable=False)
    role = Column(CleanString(16), nullable=False, default=DeskRole.AGENT)
    division_id = Column(Integer, ForeignKey("division.id", ondelete="SET NULL"), nullable=True)
    active = Column(Boolean(create_constraint=False), nullable=False, default=True)
    online = Column(Boolean(create_constraint=False), nullable=False, default=False)
    # How many open conversations automatic assignment gives this agent at most.
    max_conversations = Column(Integer, nullable=False, default=3)
    last_assigned_at = Column(UTCDateTime, nullable=True)
    last_seen_at = Column(UTCDateTime, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        CheckConstraint(one_of("role", DeskRole), name="role_valid"),
        CheckConstraint("max_conversations >= 1", name="max_conversations_positive"),
    )


class DeskSession(Base):
    """A server-side login session; the cookie holds a random token, the table its SHA-256."""

    __tablename__ = "desk_session"

    id = Column(CleanString(64), primary_key=True)  # sha256 hex of the cookie token
    user_id = Column(Integer, ForeignKey("desk_user.id", ondelete="CASCADE"), nullable=False)
    csrf_token = Column(CleanString(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False, index=True)


class CannedResponse(Base):
    """A reply template for agents; `{nama}` is replaced by the citizen's name."""

    __tablename__ = "canned_response"

    id = Column(Integer, primary_key=True, autoincrement=True)
    title = Column(CleanString(100), nullable=False)
    body = Column(CleanText, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Contact(Base):
    """What agents know about a citizen (one per conversation key): notes and tags."""

    __tablename__ = "contact"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(CleanString(255), nullable=False, unique=True)
    channel = Column(CleanString(64), nullable=True)
    name = Column(CleanString(255), nullable=True)
    notes = Column(CleanText, nullable=False, default="")
    tags = Column(CleanText, nullable=False, default="")  # comma-separated, lower case
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class DeskSetting(Base):
    """A setting admins change in the desk (e.g. the office hours, as YAML)."""

    __tablename__ = "desk_setting"

    key = Column(CleanString(64), primary_key=True)
    value = Column(CleanText, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Handoff(Base):
    """A conversation handed to the human agents: queued, assigned, then ended.

    While it is open (waiting or assigned) Rasa keeps the conversation paused: the citizen's
    messages are logged in the tracker store and shown to the agent, the bot says nothing.
    `bot_resumed_at` stays empty until the Rasa server has resumed the conversation and told
    the citizen how it ended, so a crash between the two is finished by the desk's worker.
    A citizen who leaves the queue ("batal" while waiting) is answered by the bot in the same
    turn (`action_leave_queue`): that ending is stored with `bot_resumed_at` already set.
    """

    __tablename__ = "handoff"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(CleanString(255), nullable=False, index=True)
    channel = Column(CleanString(64), nullable=True)
    status = Column(CleanString(20), nullable=False, default=HandoffStatus.WAITING, index=True)
    name = Column(CleanString(255), nullable=True)  # the citizen's name, when known
    question = Column(CleanText, nullable=True)  # what the citizen asked before the handoff
    category = Column(CleanString(100), nullable=True)  # FAQ category of the last answer tried
    division_id = Column(Integer, ForeignKey("division.id", ondelete="SET NULL"), nullable=True)
    agent_id = Column(Integer, ForeignKey("desk_user.id", ondelete="SET NULL"), nullable=True)
    # Rasa tracker time (epoch seconds) of the handoff request: the desk relays what follows.
    since_ts = Column(Float, nullable=True)
    ticket_id = Column(CleanString(15), nullable=True)  # set when it expired into a ticket
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    assigned_at = Column(UTCDateTime, nullable=True)
    first_response_at = Column(UTCDateTime, nullable=True)
    ended_at = Column(UTCDateTime, nullable=True)
    bot_resumed_at = Column(UTCDateTime, nullable=True)
    resume_attempts = Column(Integer, nullable=False, default=0, server_default="0")
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # The message that asked for an agent (its channel message id): a turn Rasa runs again
    # after a crash finds this handoff, also once it is over, and opens no second one.
    request_key = Column(CleanString(255), nullable=True)

    __table_args__ = (
        CheckConstraint(
            one_of("status", HandoffStatus),
            name="status_valid",
        ),
        Index("uq_handoff_request_key", "request_key", unique=True),
    )


class HandoffMessage(Base):
    """An agent's reply: kept here first, then delivered through the Rasa server (outbox)."""

    __tablename__ = "handoff_message"

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(Integer, ForeignKey("handoff.id", ondelete="CASCADE"), nullable=False)
    agent_id = Column(Integer, ForeignKey("desk_user.id", ondelete="SET NULL"), nullable=True)
    text = Column(CleanText, nullable=False)
    status = Column(CleanString(16), nullable=False, default=OutboxStatus.PENDING, index=True)
    attempts = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = Column(UTCDateTime, nullable=True)
    # A file sent with the reply: its reference in the helpdesk file store ("email-att:...")
    # and the name it is sent under (`helpdesk.handoff.agent_files`); `text` may be "" then.
    attachment_key = Column(CleanString(64), nullable=True)
    attachment_name = Column(CleanString(255), nullable=True)

    __table_args__ = (CheckConstraint(one_of("status", OutboxStatus), name="status_valid"),)


class InboundMessage(Base):
    """A message delivered by a channel webhook, kept to answer each message exactly once.

    Channels re-deliver webhooks; the unique (channel, message_id) pair makes a second
    delivery of the same message detectable, also after a restart. `payload` holds the
    parsed message only while it is being processed (status "received"), so one whose
    processing was cut short by a crash can be processed again on the next start; it is
    cleared when the message is done.
    """

    __tablename__ = "inbound_message"

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(CleanString(64), nullable=False)
    message_id = Column(CleanString(255), nullable=False)
    sender = Column(CleanString(255), nullable=False)
    status = Column(
        CleanString(16), nullable=False, default=InboundMessageStatus.RECEIVED, index=True
    )
    payload = Column(CleanText, nullable=True)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    done_at = Column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("channel", "message_id", name="uq_inbound_message_channel_message_id"),
        CheckConstraint(one_of("status", InboundMessageStatus), name="status_valid"),
        # A sender's earlier unfinished messages (per-conversation order across processes).
        Index("ix_inbound_message_channel_sender", "channel", "sender", "id"),
    )


class SentReply(Base):
    """A reply sent on a platform channel, recorded once the platform took it (the reply ledger).

    A process killed after sending a turn's replies and before Rasa saved the turn handles the
    message again after a crash; an agent's reply is sent again when the Rasa server died before
    recording it. Both look here first, so the citizen gets each reply once. `cause` is what
    the reply answers: a delivered message's id (`seq` numbers the turn's replies from 1) or
    `handoff:<id>` for an agent's reply (`seq` 1). Rows are forgotten with the inbound
    messages (`InboxPolicy.retention`).
    """

    __tablename__ = "sent_reply"

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(CleanString(64), nullable=False)
    cause = Column(CleanString(255), nullable=False)
    seq = Column(Integer, nullable=False)
    sent_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)

    __table_args__ = (
        UniqueConstraint("channel", "cause", "seq", name="uq_sent_reply_channel_cause_seq"),
    )


class FlowSubmission(Base):
    """What a citizen gave in a guided flow of the profile (`helpdesk.conversation.flows`),
    stored when the flow ended: shown to the officer who takes the conversation and added to
    the ticket it leads to."""

    __tablename__ = "flow_submission"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(CleanString(255), nullable=False, index=True)
    channel = Column(CleanString(64), nullable=True)
    flow_id = Column(CleanString(100), nullable=False)
    flow_title = Column(CleanString(255), nullable=False)
    data = Column(CleanText, nullable=False, default="{}")  # JSON: key -> what was given
    outcome = Column(CleanString(300), nullable=False)  # how it ended: "faq:<id>", "handoff", ...
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class IdleClosure(Base):
    """An idle conversation closed by the sweeper: one row per conversation and last message.

    The unique (sender_id, last_user_at) pair keeps a conversation from being closed twice for
    the same silence, also across restarts of the sweeper.
    """

    __tablename__ = "idle_closure"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(CleanString(255), nullable=False)
    last_user_at = Column(UTCDateTime, nullable=False)
    status = Column(CleanString(16), nullable=False, default=IdleClosureStatus.CLOSING)
    attempts = Column(Integer, nullable=False, default=0)
    closed_at = Column(UTCDateTime, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "sender_id", "last_user_at", name="uq_idle_closure_sender_id_last_user_at"
        ),
        CheckConstraint(one_of("status", IdleClosureStatus), name="status_valid"),
    )


class RateLimitCounter(Base):
    """How many times something was counted for one key in one fixed time window.

    The rate limiter (`helpdesk.security.ratelimit`) keeps one row per (rule, key, window) and
    estimates a sliding window from the current and the previous one. `key_hash` is the
    SHA-256 of the rule and the key (a user name, an address, a NIK...): the table never holds
    the identifier itself. Rows are deleted once `expires_at` (two windows on) has passed.
    """

    __tablename__ = "rate_limit_counter"

    rule = Column(CleanString(64), primary_key=True)
    key_hash = Column(CleanString(64), primary_key=True)
    window_start = Column(BigInteger, primary_key=True, autoincrement=False)  # epoch seconds
    count = Column(Integer, nullable=False, default=0)
    expires_at = Column(UTCDateTime, nullable=False, index=True)


class DeskTrustedDevice(Base):
    """A browser that logged in successfully as a desk user (OWASP "device cookie").

    The `desk_device` cookie holds a random token, the table its SHA-256. Failed logins from
    unknown browsers lock an account (and an address) for a while; a browser the owner logged
    in with before is counted on its own, so an attacker's failures never lock the owner out.
    """

    __tablename__ = "desk_trusted_device"

    id = Column(CleanString(64), primary_key=True)  # sha256 hex of the cookie token
    user_id = Column(
        Integer, ForeignKey("desk_user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_used_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False, index=True)


class ButtonPayload(Base):
    """A long button payload behind the short id a channel carries (content-addressed).

    WhatsApp reply ids (256 characters) and Telegram's `callback_data` (64 bytes) cannot hold a
    long payload (an FAQ question); the channel sends a hash id instead. The mapping lives here,
    so a tap is understood by whichever process receives it, also after a restart.
    """

    __tablename__ = "button_payload"

    short_id = Column(CleanString(128), primary_key=True)
    payload = Column(CleanText, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
