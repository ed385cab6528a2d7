"""The audit trail's table: `audit_event`, one row per audited act, chained by hashes.

Each row carries the hash of the row before it (`prev_hash`, unique: two writers that read
the same head cannot both append after it) and its own hash over its content and that link
(`helpdesk.storage.audit.chain_hash`), so a row altered, removed or inserted afterwards
breaks the chain `helpdesk audit verify` walks.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer

from helpdesk.storage.models.columns import Base, CleanString, CleanText, UTCDateTime, utcnow


class AuditEvent(Base):
    """One audited act: a self-service lookup, an agent's or an admin's action in the desk,
    a command run by an operator."""

    __tablename__ = "audit_event"

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    #: Who: "desk:<username>", "<channel>:<masked sender>", "cli:<user>".
    actor = Column(CleanString(255), nullable=False, index=True)
    #: What: "lookup.sp2d", "desk.conversation.reply", "desk.admin.user.create", ...
    action = Column(CleanString(100), nullable=False, index=True)
    #: On what, masked: "nik:3201********0001", "conversation:12", "faq:sakti-reset".
    target = Column(CleanString(255), nullable=False, default="")
    #: How it ended: "found", "not_found", "refused", "error", "ok", "denied", ...
    result = Column(CleanString(40), nullable=False)
    #: JSON object of further masked facts (form fields changed, filters of an export...).
    detail = Column(CleanText, nullable=False, default="{}")
    prev_hash = Column(CleanString(64), nullable=False, unique=True)
    hash = Column(CleanString(64), nullable=False, unique=True)
