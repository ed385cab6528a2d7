"""Broadcasts, their recipients and each number's consent: the only SQL of broadcasts.

"Exactly once" rests on the recipient row (see `helpdesk.storage.models.broadcasts`): the
sender claims a batch (status "sending", a fresh `callback_key`) and commits before any request
leaves; each answer of the platform is recorded at once. A row still "sending" after a crash is
either a message the platform accepted (its status callback, carrying the callback key, marks it
"sent") or one that never left: `reconcile` sends it again only when callbacks of messages
claimed after it have arrived while none arrived for it, and gives it up as failed (never sends
it twice) when nothing proves either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session, aliased

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.broadcast_records import (
    BroadcastRecord,
    ConsentRecord,
    NewRecipient,
    RecipientRecord,
    broadcast_record,
    consent_record,
    recipient_record,
)
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import BroadcastStatus, RecipientStatus
from helpdesk.storage.models import Broadcast, BroadcastConsent, BroadcastRecipient, utcnow

__all__ = [
    "BroadcastRecord",
    "BroadcastRepository",
    "ConsentRecord",
    "NewRecipient",
    "RecipientRecord",
]

#: Recipient statuses still to be sent (or in flight).
UNSENT = (RecipientStatus.PENDING, RecipientStatus.SENDING)
#: The order of the platform's statuses: a later callback never moves a recipient back.
_PROGRESS = {
    RecipientStatus.SENT: 1,
    RecipientStatus.DELIVERED: 2,
    RecipientStatus.READ: 3,
}
#: The longest error text kept (the column size).
_MAX_ERROR = 255


def _clip(text: str | None, limit: int = _MAX_ERROR) -> str | None:
    return None if text is None else str(text)[:limit]


class BroadcastRepository(_Repository):
    """Broadcasts, recipients and consent (each method one unit of work)."""

    # ----------------------------------------------------------------- broadcasts

    def create(
        self,
        *,
        name: str,
        template_name: str,
        template_language: str,
        created_by: str,
        consent_note: str,
        recipients: Iterable[NewRecipient],
        channel: str = "whatsapp",
        now: datetime | None = None,
    ) -> BroadcastRecord:
        """A draft broadcast with its recipients; each number not opted out is recorded as
        opted in by this upload (`consent_note` says how the consent was obtained)."""
        now = now or utcnow()
        _check_aware(now, "now")
        rows = list(recipients)

        def work() -> BroadcastRecord:
            with session_scope(self._sessions) as session:
                broadcast = Broadcast(
                    name=name,
                    channel=channel,
                    template_name=template_name,
                    template_language=template_language,
                    status=BroadcastStatus.DRAFT,
                    consent_note=consent_note,
                    created_by=created_by,
                    created_at=now,
                )
                session.add(broadcast)
                session.flush()
                source = _clip(f"unggahan siaran #{broadcast.id} oleh {created_by}")
                consents = {
                    row.phone: row
                    for row in session.scalars(
                        select(BroadcastConsent).where(
                            BroadcastConsent.phone.in_([r.phone for r in rows])
                        )
                    )
                }
                for recipient in rows:
                    session.add(
                        BroadcastRecipient(
                            broadcast_id=broadcast.id,
                            phone=recipient.phone,
                            name=recipient.name or None,
                            variables=json.dumps(recipient.variables, ensure_ascii=False),
                            status=RecipientStatus.PENDING,
                            attempts=0,
                        )
                    )
                    consent = consents.get(recipient.phone)
                    if consent is None:
                        session.add(
                            BroadcastConsent(
                                phone=recipient.phone,
                                opted_in_at=now,
                                opted_in_source=source,
                                updated_at=now,
                            )
                        )
                    elif consent.opted_out_at is None and consent.opted_in_at is None:
                        consent.opted_in_at, consent.opted_in_source = now, source
                        consent.updated_at = now
                session.flush()
                return broadcast_record(broadcast)

        return retry_on_locked(work)

    def get(self, broadcast_id: int) -> BroadcastRecord | None:
        with session_scope(self._sessions) as session:
            row = session.get(Broadcast, broadcast_id)
            return broadcast_record(row) if row is not None else None

    def latest(self, limit: int = 100) -> list[BroadcastRecord]:
        """The latest broadcasts first."""
        with session_scope(self._sessions) as session:
            query = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
            return [broadcast_record(row) for row in session.scalars(query)]

    def set_status(
        self,
        broadcast_id: int,
        status: BroadcastStatus,
        *,
        allowed_from: Iterable[BroadcastStatus],
        scheduled_at: datetime | None = None,
        note: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Move a broadcast to `status` if it is in one of `allowed_from` (False otherwise)."""
        now = now or utcnow()
        _check_aware(now, "now")
        _check_aware(scheduled_at, "scheduled_at")
        values: dict[str, Any] = {"status": status, "note": _clip(note)}
        if status == BroadcastStatus.SCHEDULED:
            values["scheduled_at"] = scheduled_at
        if status == BroadcastStatus.SENDING:
            values["started_at"] = func.coalesce(Broadcast.started_at, now)
        if status in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED):
            values["finished_at"] = now

        def work() -> bool:
            with session_scope(self._sessions) as session:
                result = session.execute(
                    update(Broadcast)
                    .where(
                        Broadcast.id == broadcast_id,
                        Broadcast.status.in_([str(s) for s in allowed_from]),
                    )
                    .values(**values)
                )
                return bool(result.rowcount)

        return retry_on_locked(work)

    def due(self, now: datetime | None = None) -> list[int]:
        """Broadcasts to work on now: those sending, and scheduled ones whose time came (these
        are moved to "sending" here)."""
        now = now or utcnow()
        _check_aware(now, "now")

        def work() -> list[int]:
            with session_scope(self._sessions) as session:
                session.execute(
                    update(Broadcast)
                    .where(
                        Broadcast.status == BroadcastStatus.SCHEDULED,
                        Broadcast.scheduled_at <= now,
                    )
                    .values(
                        status=BroadcastStatus.SENDING,
                        started_at=func.coalesce(Broadcast.started_at, now),
                    )
                )
                query = (
                    select(Broadcast.id)
                    .where(Broadcast.status == BroadcastStatus.SENDING)
                    .order_by(Broadcast.id)
                )
                return list(session.scalars(query))

        return retry_on_locked(work)

    def finish_if_done(self, broadcast_id: int, now: datetime | None = None) -> bool:
        """Mark a sending broadcast done when none of its recipients is left to send."""
        now = now or utcnow()
        _check_aware(now, "now")

        def work() -> bool:
            with session_scope(self._sessions) as session:
                left = session.scalar(
                    select(func.count(BroadcastRecipient.id)).where(
                        BroadcastRecipient.broadcast_id == broadcast_id,
                        BroadcastRecipient.status.in_([str(s) for s in UNSENT]),
                    )
                )
                if left:
                    return False
                result = session.execute(
                    update(Broadcast)
                    .where(
                        Broadcast.id == broadcast_id,
                        Broadcast.status == BroadcastStatus.SENDING,
                    )
                    .values(status=BroadcastStatus.DONE, finished_at=now)
                )
                return bool(result.rowcount)

        return retry_on_locked(work)

    # ----------------------------------------------------------------- recipients

    def totals(self, broadcast_id: int) -> dict[str, int]:
        """How many recipients are in each status (every status present, 0 when none)."""
        with session_scope(self._sessions) as session:
            query = (
                select(BroadcastRecipient.status, func.count(BroadcastRecipient.id))
                .where(BroadcastRecipient.broadcast_id == broadcast_id)
                .group_by(BroadcastRecipient.status)
            )
            counts = {str(status): 0 for status in RecipientStatus}
            for status, count in session.execute(query):
                counts[str(status)] = int(count)
            return counts

    def recipients(
        self,
        broadcast_id: int,
        *,
        status: str | None = None,
        offset: int = 0,
        limit: int | None = 100,
    ) -> list[RecipientRecord]:
        """Recipients in upload order (optionally of one status)."""
        with session_scope(self._sessions) as session:
            query = select(BroadcastRecipient).where(
                BroadcastRecipient.broadcast_id == broadcast_id
            )
            if status:
                query = query.where(BroadcastRecipient.status == status)
            query = query.order_by(BroadcastRecipient.id).offset(offset)
            if limit is not None:
                query = query.limit(limit)
            return [recipient_record(row) for row in session.scalars(query)]

    def iter_recipients(self, broadcast_id: int, batch: int = 500) -> Iterator[RecipientRecord]:
        """Every recipient in upload order, read in batches (for exports)."""
        last = 0
        while True:
            with session_scope(self._sessions) as session:
                rows = [
                    recipient_record(row)
                    for row in session.scalars(
                        select(BroadcastRecipient)
                        .where(
                            BroadcastRecipient.broadcast_id == broadcast_id,
                            BroadcastRecipient.id > last,
                        )
                        .order_by(BroadcastRecipient.id)
                        .limit(batch)
                    )
                ]
            if not rows:
                return
            yield from rows
            last = rows[-1].id

    def claim(
        self, broadcast_id: int, limit: int, now: datetime | None = None
    ) -> list[RecipientRecord]:
        """Claim up to `limit` pending recipients for sending (committed before any request
        leaves). Numbers opted out by now are marked "opted_out" instead, never claimed."""
        now = now or utcnow()
        _check_aware(now, "now")

        def work() -> list[RecipientRecord]:
            with session_scope(self._sessions) as session:
                rows = list(
                    session.scalars(
                        select(BroadcastRecipient)
                        .where(
                            BroadcastRecipient.broadcast_id == broadcast_id,
                            BroadcastRecipient.status == RecipientStatus.PENDING,
                        )
                        .order_by(BroadcastRecipient.id)
                        .limit(limit)
                    )
                )
                opted_out = _opted_out(session, [row.phone for row in rows])
                claimed = []
                for row in rows:
                    if row.phone in opted_out:
                        row.status = RecipientStatus.OPTED_OUT
                        continue
                    row.status = RecipientStatus.SENDING
                    row.attempts += 1
                    row.claimed_at = now
                    row.callback_key = f"bc:{row.id}:{row.attempts}"
                    claimed.append(row)
                session.flush()
                return [recipient_record(row) for row in claimed]

        return retry_on_locked(work)

    def mark_sent(self, recipient_id: int, message_id: str, now: datetime | None = None) -> None:
        """The platform accepted the message (its id kept for the status callbacks)."""
        now = now or utcnow()
        _check_aware(now, "now")

        def work() -> None:
            with session_scope(self._sessions) as session:
                row = session.get(BroadcastRecipient, recipient_id)
                if row is None:
                    return
                row.message_id = row.message_id or _clip(message_id, 128)
                row.sent_at = row.sent_at or now
                if row.status in (RecipientStatus.SENDING, RecipientStatus.PENDING):
                    row.status = RecipientStatus.SENT

        retry_on_locked(work)

    def mark_failed(self, recipient_id: int, error: str, now: datetime | None = None) -> None:
        """The platform refused the message for this recipient (not sent again)."""
        now = now or utcnow()
        _check_aware(now, "now")

        def work() -> None:
            with session_scope(self._sessions) as session:
                row = session.get(BroadcastRecipient, recipient_id)
                if row is not None and row.status == RecipientStatus.SENDING:
                    row.status = RecipientStatus.FAILED
                    row.failed_at = now
                    row.error = _clip(error)

        retry_on_locked(work)

    def release(self, recipient_id: int) -> None:
        """The request certainly did not reach the platform: the recipient waits again."""

        def work() -> None:
            with session_scope(self._sessions) as session:
                session.execute(
                    update(BroadcastRecipient)
                    .where(
                        BroadcastRecipient.id == recipient_id,
                        BroadcastRecipient.status == RecipientStatus.SENDING,
                    )
                    .values(status=RecipientStatus.PENDING, callback_key=None)
                )

        retry_on_locked(work)

    def record_status(
        self,
        *,
        message_id: str,
        status: str,
        callback_key: str | None = None,
        error: str | None = None,
        at: datetime | None = None,
        now: datetime | None = None,
    ) -> bool:
        """A status callback of the platform ("sent", "delivered", "read", "failed") for a
        broadcast message, found by its id or its callback key; False when it is not one.

        Statuses only move forward (a late "delivered" after "read" changes nothing); a
        "failed" after "sent" is kept (the platform gave up delivering it).
        """
        now = now or utcnow()
        at = at or now
        _check_aware(now, "now")
        _check_aware(at, "at")
        try:
            new = RecipientStatus(status)
        except ValueError:
            return False
        if new not in _PROGRESS and new != RecipientStatus.FAILED:
            return False

        def work() -> bool:
            with session_scope(self._sessions) as session:
                row = None
                if callback_key:
                    row = session.scalar(
                        select(BroadcastRecipient).where(
                            BroadcastRecipient.callback_key == callback_key
                        )
                    )
                if row is None and message_id:
                    row = session.scalar(
                        select(BroadcastRecipient).where(
                            BroadcastRecipient.message_id == message_id
                        )
                    )
                if row is None:
                    return False
                row.callback_at = now
                if message_id and not row.message_id:
                    row.message_id = _clip(message_id, 128)
                if new == RecipientStatus.FAILED:
                    row.status, row.failed_at = RecipientStatus.FAILED, at
                    row.error = _clip(error or "gagal dikirim oleh WhatsApp")
                    return True
                row.sent_at = row.sent_at or at
                if new == RecipientStatus.DELIVERED:
                    row.delivered_at = row.delivered_at or at
                if new == RecipientStatus.READ:
                    row.read_at = row.read_at or at
                    row.delivered_at = row.delivered_at or at
                if row.status in (RecipientStatus.SENDING, RecipientStatus.PENDING) or (
                    _PROGRESS.get(RecipientStatus(row.status), 99) < _PROGRESS[new]
                ):
                    row.status = new
                return True

        return retry_on_locked(work)

    def reconcile(
        self,
        broadcast_id: int,
        *,
        grace: timedelta,
        give_up: timedelta,
        now: datetime | None = None,
    ) -> tuple[int, int]:
        """Settle recipients left "sending" (by a crash, or a request whose outcome is not
        known) for longer than `grace`: (released to be sent again, given up as failed).

        Released: a status callback arrived for a message of this broadcast claimed with it or
        after it, while none arrived for it: the platform's callbacks flow, so its request never got
        there. Given up (failed, never sent twice): nothing proved either way for `give_up`.
        """
        now = now or utcnow()
        _check_aware(now, "now")

        def work() -> tuple[int, int]:
            with session_scope(self._sessions) as session:
                later = aliased(BroadcastRecipient)
                proof = (
                    select(later.id)
                    .where(
                        later.broadcast_id == broadcast_id,
                        later.callback_at.is_not(None),
                        later.claimed_at >= BroadcastRecipient.claimed_at,
                        later.id != BroadcastRecipient.id,
                    )
                    .exists()
                )
                stuck = and_(
                    BroadcastRecipient.broadcast_id == broadcast_id,
                    BroadcastRecipient.status == RecipientStatus.SENDING,
                    BroadcastRecipient.callback_at.is_(None),
                    BroadcastRecipient.claimed_at <= now - grace,
                )
                released = session.execute(
                    update(BroadcastRecipient)
                    .where(stuck, proof)
                    .values(status=RecipientStatus.PENDING, callback_key=None)
                    .execution_options(synchronize_session=False)
                ).rowcount
                failed = session.execute(
                    update(BroadcastRecipient)
                    .where(stuck, BroadcastRecipient.claimed_at <= now - give_up)
                    .values(
                        status=RecipientStatus.FAILED,
                        failed_at=now,
                        error="tidak pasti terkirim: tidak ada status dari WhatsApp",
                    )
                    .execution_options(synchronize_session=False)
                ).rowcount
                return int(released or 0), int(failed or 0)

        return retry_on_locked(work)

    def in_flight(self, broadcast_id: int) -> int:
        """Recipients claimed and not settled yet."""
        with session_scope(self._sessions) as session:
            return int(
                session.scalar(
                    select(func.count(BroadcastRecipient.id)).where(
                        BroadcastRecipient.broadcast_id == broadcast_id,
                        BroadcastRecipient.status == RecipientStatus.SENDING,
                    )
                )
                or 0
            )

    def opted_out_count(self, broadcast_id: int) -> int:
        """Recipients skipped or to be skipped because their number opted out."""
        with session_scope(self._sessions) as session:
            query = (
                select(func.count(BroadcastRecipient.id))
                .outerjoin(BroadcastConsent, BroadcastConsent.phone == BroadcastRecipient.phone)
                .where(
                    BroadcastRecipient.broadcast_id == broadcast_id,
                    (BroadcastRecipient.status == RecipientStatus.OPTED_OUT)
                    | (
                        (BroadcastRecipient.status == RecipientStatus.PENDING)
                        & BroadcastConsent.opted_out_at.is_not(None)
                    ),
                )
            )
            return int(session.scalar(query) or 0)

    def numbers_sent_since(self, since: datetime) -> int:
        """Distinct numbers a broadcast message went to since `since` (the platform's
        messaging limit counts unique recipients in a rolling 24 hours)."""
        _check_aware(since, "since")
        with session_scope(self._sessions) as session:
            return int(
                session.scalar(
                    select(func.count(func.distinct(BroadcastRecipient.phone))).where(
                        BroadcastRecipient.sent_at >= since
                    )
                )
                or 0
            )

    # ----------------------------------------------------------------- consent

    def consent(self, phone: str) -> ConsentRecord | None:
        with session_scope(self._sessions) as session:
            row = session.get(BroadcastConsent, phone)
            return consent_record(row) if row is not None else None

    def opt_out(self, phone: str, source: str, now: datetime | None = None) -> bool:
        """The number wants no more broadcasts (True when it was not opted out already).

        Its recipients still waiting in any broadcast are marked "opted_out" at once.
        """
        return self._set_consent(phone, source, out=True, now=now)

    def opt_in(self, phone: str, source: str, now: datetime | None = None) -> bool:
        """The number asked for broadcasts again: recorded only when it had opted out (True
        then); a number that never opted out is left as it is (False)."""
        return self._set_consent(phone, source, out=False, now=now)

    def _set_consent(self, phone: str, source: str, *, out: bool, now: datetime | None) -> bool:
        now = now or utcnow()
        _check_aware(now, "now")

        def work() -> bool:
            with session_scope(self._sessions) as session:
                row = session.get(BroadcastConsent, phone)
                was_out = row is not None and row.opted_out_at is not None
                if not out and not was_out:
                    return False  # "MULAI" from a number that never stopped: no consent
                if row is None:
                    row = BroadcastConsent(phone=phone, updated_at=now)
                    session.add(row)
                if out:
                    if not was_out:
                        row.opted_out_at, row.opted_out_source = now, _clip(source)
                    session.execute(
                        update(BroadcastRecipient)
                        .where(
                            BroadcastRecipient.phone == phone,
                            BroadcastRecipient.status == RecipientStatus.PENDING,
                        )
                        .values(status=RecipientStatus.OPTED_OUT)
                        .execution_options(synchronize_session=False)
                    )
                else:
                    row.opted_out_at = row.opted_out_source = None
                    row.opted_in_at, row.opted_in_source = now, _clip(source)
                row.updated_at = now
                return was_out != out

        return retry_on_locked(work)


def _opted_out(session: Session, phones: list[str]) -> set[str]:
    if not phones:
        return set()
    query = select(BroadcastConsent.phone).where(
        BroadcastConsent.phone.in_(phones), BroadcastConsent.opted_out_at.is_not(None)
    )
    return set(session.scalars(query))
