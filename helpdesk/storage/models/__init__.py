"""SQLAlchemy declarative models of the helpdesk store, one module per area.

- `columns`: the declarative base, `metadata` and the column types (`UTCDateTime`: aware UTC
  on every backend; `CleanText`, `CleanString`: no NUL characters);
- `tables`: tickets, ratings, questions, conversations, the agent desk, handoffs, inbound
  deliveries and the reply ledger, idle closures, rate limits, button payloads, what guided
  flows collected;
- `audit`: the audit trail (`audit_event`), each row chained to the one before by a hash;
  citizens' data requests (`data_request`) and e-mail codes (`email_verification`);
  integrators' API tokens (`api_token`);
- `broadcasts`: WhatsApp broadcasts, their recipients and each number's consent;
- `knowledge`: the curated knowledge base (entries, versions, the publication revision) and
  the questions inbox's triage (questions dealt with, dismissed groups).

Everything is importable from here (`from helpdesk.storage.models import Ticket, utcnow`);
importing the package registers every table on `metadata` (Alembic, `create_all`).
"""

from __future__ import annotations

from helpdesk.storage.models.audit import ApiToken, AuditEvent, DataRequest, EmailVerification
from helpdesk.storage.models.broadcasts import Broadcast, BroadcastConsent, BroadcastRecipient
from helpdesk.storage.models.columns import (
    Base,
    CleanString,
    CleanText,
    NAMING_CONVENTION,
    UTCDateTime,
    metadata,
    utcnow,
)
from helpdesk.storage.models.knowledge import (
    FAQ_VERSION_STATUSES,
    DismissedGroup,
    FaqEntryRow,
    FaqVersion,
    KbRevision,
    QuestionTriage,
)
from helpdesk.storage.models.tables import (
    ButtonPayload,
    CSAT_KINDS,
    CannedResponse,
    Contact,
    Conversation,
    CsatRating,
    DESK_ROLES,
    DeskSession,
    DeskSetting,
    DeskTrustedDevice,
    DeskUser,
    Division,
    FlowSubmission,
    HANDOFF_OPEN_STATUSES,
    HANDOFF_STATUSES,
    Handoff,
    HandoffMessage,
    INBOUND_MESSAGE_STATUSES,
    IdleClosure,
    InboundMessage,
    OUTBOX_STATUSES,
    QuestionLog,
    RateLimitCounter,
    SentReply,
    TICKET_STATUSES,
    Ticket,
)

__all__ = [
    "ApiToken",
    "Broadcast",
    "BroadcastConsent",
    "BroadcastRecipient",
    "AuditEvent",
    "DataRequest",
    "EmailVerification",
    "Base",
    "DismissedGroup",
    "FlowSubmission",
    "QuestionTriage",
    "ButtonPayload",
    "CSAT_KINDS",
    "CannedResponse",
    "CleanString",
    "CleanText",
    "Contact",
    "Conversation",
    "CsatRating",
    "DESK_ROLES",
    "DeskSession",
    "DeskSetting",
    "DeskTrustedDevice",
    "DeskUser",
    "Division",
    "FAQ_VERSION_STATUSES",
    "FaqEntryRow",
    "FaqVersion",
    "HANDOFF_OPEN_STATUSES",
    "HANDOFF_STATUSES",
    "Handoff",
    "HandoffMessage",
    "INBOUND_MESSAGE_STATUSES",
    "IdleClosure",
    "InboundMessage",
    "KbRevision",
    "NAMING_CONVENTION",
    "OUTBOX_STATUSES",
    "QuestionLog",
    "RateLimitCounter",
    "SentReply",
    "TICKET_STATUSES",
    "Ticket",
    "UTCDateTime",
    "metadata",
    "utcnow",
]
