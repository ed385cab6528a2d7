"""The accountability tables: the audit trail (`audit_event`, one row per audited act,
chained by hashes) and citizens' data requests (`data_request`, `email_verification`).

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


class DataRequest(Base):
    """A citizen's request under UU PDP: a copy of their data (access, Pasal 7) or its
    deletion (erasure, Pasal 8), verified by the channel identity or an e-mail code.

    When carried out, the request keeps its reference, kind, dates and decision; the sender
    and e-mail are cleared after an erasure (what is left is the record that it happened).
    """

    __tablename__ = "data_request"

    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(CleanString(20), nullable=False, unique=True)
    kind = Column(CleanString(16), nullable=False)  # access | erasure
    status = Column(CleanString(16), nullable=False, index=True)
    sender_id = Column(CleanString(255), nullable=True, index=True)
    channel = Column(CleanString(64), nullable=True)
    verified_by = Column(CleanString(32), nullable=False)  # the channel, or "email"
    email = Column(CleanString(320), nullable=True)
    legal_basis = Column(CleanString(255), nullable=False)
    requested_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    due_at = Column(UTCDateTime, nullable=False)
    decided_at = Column(UTCDateTime, nullable=True)
    decided_by = Column(CleanString(64), nullable=True)
    decision_note = Column(CleanText, nullable=True)
    completed_at = Column(UTCDateTime, nullable=True)
    #: What was found (access) or done (erasure), store by store, as JSON counts.
    outcome = Column(CleanText, nullable=True)


class EmailVerification(Base):
    """A code e-mailed to prove a web chat visitor holds an address (data requests)."""

    __tablename__ = "email_verification"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(CleanString(255), nullable=False, index=True)
    email = Column(CleanString(320), nullable=False)
    code_hash = Column(CleanString(64), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    verified_at = Column(UTCDateTime, nullable=True)


class ApiToken(Base):
    """A token an integrator's system reads desk data with (reports, the audit trail, ticket
    status), limited to its scopes; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(CleanString(100), nullable=False, unique=True)
    token_hash = Column(CleanString(64), nullable=False, unique=True)
    scopes = Column(CleanString(255), nullable=False)  # comma-separated
    created_by = Column(CleanString(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=True)
    last_used_at = Column(UTCDateTime, nullable=True)
    revoked_at = Column(UTCDateTime, nullable=True)
