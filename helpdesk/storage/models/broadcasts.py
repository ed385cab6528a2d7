"""Broadcasts: approved WhatsApp templates sent to a list of recipients a supervisor uploaded
(`broadcast`, `broadcast_recipient`), and each number's consent to receive them
(`broadcast_consent`).

A recipient row is the unit of "exactly once": unique per (broadcast, phone), claimed by the
sender (status "sending", `claimed_at`) before its request to the platform, then marked with
the platform's message id. The status callbacks (sent, delivered, read, failed) find the row by
that id or by the `callback_key` sent with the message (`biz_opaque_callback_data`), which is
how a message sent just before a crash is recognised afterwards.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, UniqueConstraint

from helpdesk.storage.enums import BroadcastStatus, RecipientStatus
from helpdesk.storage.models.columns import (
    Base,
    CleanString,
    CleanText,
    UTCDateTime,
    one_of,
    utcnow,
)


class Broadcast(Base):
    """One broadcast: a template, its recipients, when to send, who made it."""

    __tablename__ = "broadcast"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(CleanString(120), nullable=False)
    channel = Column(CleanString(32), nullable=False, default="whatsapp")
    template_name = Column(CleanString(512), nullable=False)
    template_language = Column(CleanString(16), nullable=False)
    status = Column(CleanString(16), nullable=False, default=BroadcastStatus.DRAFT, index=True)
    #: How the recipients' consent was obtained, as the supervisor stated it at upload.
    consent_note = Column(CleanText, nullable=False, default="")
    created_by = Column(CleanString(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    scheduled_at = Column(UTCDateTime, nullable=True)
    started_at = Column(UTCDateTime, nullable=True)
    finished_at = Column(UTCDateTime, nullable=True)
    #: Why the sender paused it (credentials refused, ...), for the supervisor.
    note = Column(CleanString(255), nullable=True)

    __table_args__ = (CheckConstraint(one_of("status", BroadcastStatus), name="status_valid"),)


class BroadcastRecipient(Base):
    """One recipient of a broadcast and what became of its message."""

    __tablename__ = "broadcast_recipient"

    id = Column(Integer, primary_key=True, autoincrement=True)
    broadcast_id = Column(Integer, ForeignKey("broadcast.id", ondelete="CASCADE"), nullable=False)
    #: International form without "+" (6281234567890), as WhatsApp names senders.
    phone = Column(CleanString(32), nullable=False, index=True)
    name = Column(CleanString(255), nullable=True)
    #: JSON object of the template's variables for this recipient.
    variables = Column(CleanText, nullable=False, default="{}")
    status = Column(CleanString(16), nullable=False, default=RecipientStatus.PENDING)
    attempts = Column(Integer, nullable=False, default=0)
    claimed_at = Column(UTCDateTime, nullable=True)
    #: Sent with the message and returned in its status callbacks ("bc:<id>:<attempt>").
    callback_key = Column(CleanString(64), nullable=True, unique=True)
    message_id = Column(CleanString(128), nullable=True, unique=True)
    sent_at = Column(UTCDateTime, nullable=True)
    delivered_at = Column(UTCDateTime, nullable=True)
    read_at = Column(UTCDateTime, nullable=True)
    failed_at = Column(UTCDateTime, nullable=True)
    #: The last status callback received for this recipient.
    callback_at = Column(UTCDateTime, nullable=True)
    error = Column(CleanString(255), nullable=True)

    __table_args__ = (
        UniqueConstraint("broadcast_id", "phone"),
        Index("ix_broadcast_recipient_broadcast_status", "broadcast_id", "status"),
        CheckConstraint(one_of("status", RecipientStatus), name="status_valid"),
    )


class BroadcastConsent(Base):
    """A number's consent to broadcasts: when and how it opted in, when it opted out.

    Opting out (BERHENTI/STOP from the number) wins over every later upload: only the
    citizen opting in again (MULAI/START) clears it.
    """

    __tablename__ = "broadcast_consent"

    phone = Column(CleanString(32), primary_key=True)
    opted_in_at = Column(UTCDateTime, nullable=True)
    opted_in_source = Column(CleanString(255), nullable=True)
    opted_out_at = Column(UTCDateTime, nullable=True)
    opted_out_source = Column(CleanString(255), nullable=True)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
