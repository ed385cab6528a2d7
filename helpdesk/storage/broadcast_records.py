"""The broadcast store's records: plain frozen dataclasses going up from
`helpdesk.storage.broadcasts`, and their conversion from the rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from helpdesk.storage.models import Broadcast, BroadcastConsent, BroadcastRecipient


@dataclass(frozen=True)
class NewRecipient:
    """A recipient read from an upload: the number, the name and the template's values."""

    phone: str
    name: str
    variables: dict[str, str]


@dataclass(frozen=True)
class BroadcastRecord:
    """A broadcast, detached from any session."""

    id: int
    name: str
    channel: str
    template_name: str
    template_language: str
    status: str
    consent_note: str
    created_by: str
    created_at: datetime
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    note: str | None


@dataclass(frozen=True)
class RecipientRecord:
    """One recipient and what became of its message."""

    id: int
    broadcast_id: int
    phone: str
    name: str
    variables: dict[str, str]
    status: str
    attempts: int
    callback_key: str | None
    message_id: str | None
    claimed_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class ConsentRecord:
    """A number's consent to broadcasts."""

    phone: str
    opted_in_at: datetime | None
    opted_in_source: str | None
    opted_out_at: datetime | None
    opted_out_source: str | None

    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None


def broadcast_record(row: Broadcast) -> BroadcastRecord:
    return BroadcastRecord(
        id=row.id,
        name=row.name,
        channel=row.channel,
        template_name=row.template_name,
        template_language=row.template_language,
        status=row.status,
        consent_note=row.consent_note or "",
        created_by=row.created_by,
        created_at=row.created_at,
        scheduled_at=row.scheduled_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        note=row.note,
    )


def recipient_record(row: BroadcastRecipient) -> RecipientRecord:
    try:
        variables = json.loads(row.variables or "{}")
    except ValueError:
        variables = {}
    return RecipientRecord(
        id=row.id,
        broadcast_id=row.broadcast_id,
        phone=row.phone,
        name=row.name or "",
        variables=variables if isinstance(variables, dict) else {},
        status=row.status,
        attempts=row.attempts,
        callback_key=row.callback_key,
        message_id=row.message_id,
        claimed_at=row.claimed_at,
        sent_at=row.sent_at,
        delivered_at=row.delivered_at,
        read_at=row.read_at,
        failed_at=row.failed_at,
        error=row.error,
    )


def consent_record(row: BroadcastConsent) -> ConsentRecord:
    return ConsentRecord(
        phone=row.phone,
        opted_in_at=row.opted_in_at,
        opted_in_source=row.opted_in_source,
        opted_out_at=row.opted_out_at,
        opted_out_source=row.opted_out_source,
    )
