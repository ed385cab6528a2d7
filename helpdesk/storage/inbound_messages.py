"""Inbound channel messages: each delivery claimed once, marked done, recovered after a crash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import InboundMessageStatus
from helpdesk.storage.models import InboundMessage, SentReply, utcnow


@dataclass(frozen=True)
class InboundMessageRecord:
    """A claimed inbound channel message, detached from any session."""

    channel: str
    message_id: str
    sender: str
    status: str
    payload: str | None
    received_at: datetime
    done_at: datetime | None

    @classmethod
    def from_row(cls, row: InboundMessage) -> "InboundMessageRecord":
        return cls(
            channel=row.channel,
            message_id=row.message_id,
            sender=row.sender,
            status=row.status,
            payload=row.payload,
            received_at=row.received_at,
            done_at=row.done_at,
        )


class InboundMessageRepository(_Repository):
    """Inbound channel messages: claim each one once, mark it done, find unfinished ones.

    A webhook claims a message before it answers the delivery; a second delivery of the same
    (channel, message_id) finds it claimed and is only acknowledged. The claim is the unique
    constraint itself, so two processes receiving the same delivery at once cannot both win.
    """

    def claim(self, channel: str, message_id: str, sender: str, payload: str | None = None) -> bool:
        """Record a message as received, unless it was seen before.

        Args:
            channel: The channel name, e.g. "whatsapp".
            message_id: The channel's id of the message.
            sender: The sender id (the conversation key).
            payload: What is needed to process the message again after a crash (kept only
                until the message is done).

        Returns:
            True when this call claimed the message, False when it was already claimed.

        Raises:
            ValueError: For an empty channel, message id or sender.
        """
        if not channel or not message_id or not sender:
            raise ValueError("channel, message_id and sender must not be empty")

        def work() -> bool:
            try:
                with session_scope(self._sessions) as session:
                    session.add(
                        InboundMessage(
                            channel=channel,
                            message_id=message_id,
                            sender=sender,
                            status=InboundMessageStatus.RECEIVED,
                            payload=payload,
                            received_at=utcnow(),
                        )
                    )
                    session.flush()
                return True
            except IntegrityError:
                if self.get(channel, message_id) is not None:
                    return False
                raise

        return retry_on_locked(work)

    def get(self, channel: str, message_id: str) -> InboundMessageRecord | None:
        """The claimed message, or None when it was never claimed."""
        stmt = select(InboundMessage).where(
            InboundMessage.channel == channel, InboundMessage.message_id == message_id
        )
        with session_scope(self._sessions) as session:
            row = session.execute(stmt).scalar_one_or_none()
            return InboundMessageRecord.from_row(row) if row is not None else None

    def mark_done(self, channel: str, message_id: str) -> bool:
        """Mark a message as processed and forget its payload.

        Returns:
            True when the message was pending and is now done.
        """

        def work() -> bool:
            stmt = (
                update(InboundMessage)
                .where(
                    InboundMessage.channel == channel,
                    InboundMessage.message_id == message_id,
                    InboundMessage.status == InboundMessageStatus.RECEIVED,
                )
                .values(status=InboundMessageStatus.DONE, payload=None, done_at=utcnow())
            )
            with session_scope(self._sessions) as session:
                return bool(session.execute(stmt).rowcount)

        return retry_on_locked(work)

    def earlier_unfinished(
        self, channel: str, message_id: str, *, limit: int = 20
    ) -> list[InboundMessageRecord]:
        """The messages of the same sender claimed before this one (in claim order) and not
        done yet, oldest first: they come first (per-conversation order across processes).

        Returns:
            Those messages (at most `limit`); none also when `message_id` was never claimed.
        """
        this = (
            select(InboundMessage.id, InboundMessage.sender)
            .where(InboundMessage.channel == channel, InboundMessage.message_id == message_id)
            .subquery()
        )
        stmt = (
            select(InboundMessage)
            .join(this, InboundMessage.sender == this.c.sender)
            .where(
                InboundMessage.channel == channel,
                InboundMessage.id < this.c.id,
                InboundMessage.status == InboundMessageStatus.RECEIVED,
            )
            .order_by(InboundMessage.id)
            .limit(limit)
        )
        with session_scope(self._sessions) as session:
            return [InboundMessageRecord.from_row(row) for row in session.scalars(stmt).all()]

    def last_received(self, channel: str, sender: str) -> datetime | None:
        """When the sender's latest message on `channel` was claimed (None: no message kept).

        The claim time is the arrival time, renewed only while the message is in work (a
        heartbeat, a take-over after a crash), so it is at most minutes late. Platforms that
        limit how long after a citizen's message a business may answer (Meta's 24-hour
        window) read it here; handled messages are kept for the inbox's retention (30 days).
        """
        stmt = (
            select(InboundMessage.received_at)
            .where(InboundMessage.channel == channel, InboundMessage.sender == sender)
            .order_by(InboundMessage.id.desc())
            .limit(1)
        )
        with session_scope(self._sessions) as session:
            return session.execute(stmt).scalar_one_or_none()

    def pending(
        self, older_than: timedelta, *, channel: str | None = None, limit: int = 100
    ) -> list[InboundMessageRecord]:
        """Messages claimed more than `older_than` ago and still not done, oldest first.

        Args:
            older_than: How long ago a message must have been claimed (a younger one may
                still be in the works in another process).
            channel: Only messages of this channel.
            limit: How many at most.
        """
        if limit <= 0:
            raise ValueError("limit must be > 0")
        stmt = select(InboundMessage).where(
            InboundMessage.status == InboundMessageStatus.RECEIVED,
            InboundMessage.received_at < utcnow() - older_than,
        )
        if channel is not None:
            stmt = stmt.where(InboundMessage.channel == channel)
        stmt = stmt.order_by(InboundMessage.received_at, InboundMessage.id).limit(limit)
        with session_scope(self._sessions) as session:
            return [InboundMessageRecord.from_row(row) for row in session.scalars(stmt).all()]

    def reclaim(self, channel: str, message_id: str, older_than: timedelta) -> bool:
        """Take over a pending message for processing again (recovery after a crash).

        The claim time is renewed, so of several processes recovering at once only one wins.

        Returns:
            True when this call took the message over; False when it is done, unknown, or
            was claimed (or reclaimed) less than `older_than` ago.
        """

        def work() -> bool:
            now = utcnow()
            stmt = (
                update(InboundMessage)
                .where(
                    InboundMessage.channel == channel,
                    InboundMessage.message_id == message_id,
                    InboundMessage.status == InboundMessageStatus.RECEIVED,
                    InboundMessage.received_at < now - older_than,
                )
                .values(received_at=now)
            )
            with session_scope(self._sessions) as session:
                return bool(session.execute(stmt).rowcount)

        return retry_on_locked(work)

    def touch(self, channel: str, message_ids: Iterable[str]) -> int:
        """Renew the claims of messages still in work (a live process's heartbeat), so that
        no other process takes them over (`reclaim` waits for a claim `older_than`).

        Returns:
            How many unfinished claims were renewed.
        """
        ids = sorted(set(message_ids))
        if not ids:
            return 0

        def work() -> int:
            now = utcnow()
            renewed = 0
            with session_scope(self._sessions) as session:
                for start in range(0, len(ids), 500):
                    stmt = (
                        update(InboundMessage)
                        .where(
                            InboundMessage.channel == channel,
                            InboundMessage.message_id.in_(ids[start : start + 500]),
                            InboundMessage.status == InboundMessageStatus.RECEIVED,
                        )
                        .values(received_at=now)
                        .execution_options(synchronize_session=False)
                    )
                    renewed += session.execute(stmt).rowcount
            return renewed

        return retry_on_locked(work)

    def purge_done(self, older_than: timedelta) -> int:
        """Delete done messages finished more than `older_than` ago.

        Returns:
            How many rows were deleted.
        """

        def work() -> int:
            stmt = delete(InboundMessage).where(
                InboundMessage.status == InboundMessageStatus.DONE,
                InboundMessage.done_at < utcnow() - older_than,
            )
            with session_scope(self._sessions) as session:
                return int(session.execute(stmt).rowcount or 0)

        return retry_on_locked(work)

    # ----------------------------------------------------------------- the reply ledger

    def record_reply(self, channel: str, cause: str, seq: int) -> bool:
        """Record that reply `seq` to `cause` went out on `channel` (see `SentReply`).

        Returns:
            True when recorded now, False when it was recorded before.

        Raises:
            ValueError: For an empty channel or cause, or a `seq` below 1.
        """
        if not channel or not cause or seq < 1:
            raise ValueError("channel and cause must not be empty, seq must be >= 1")

        def work() -> bool:
            try:
                with session_scope(self._sessions) as session:
                    session.add(SentReply(channel=channel, cause=cause, seq=seq, sent_at=utcnow()))
                    session.flush()
                return True
            except IntegrityError:  # sent before (a handling cut short by a crash)
                return False

        return retry_on_locked(work)

    def replies_sent(self, channel: str, cause: str) -> frozenset[int]:
        """The numbers of the replies to `cause` recorded as sent on `channel`."""

        def work() -> frozenset[int]:
            stmt = select(SentReply.seq).where(
                SentReply.channel == channel, SentReply.cause == cause
            )
            with session_scope(self._sessions) as session:
                return frozenset(int(seq) for seq in session.execute(stmt).scalars())

        return retry_on_locked(work)

    def purge_replies(self, older_than: timedelta) -> int:
        """Forget replies sent more than `older_than` ago; returns how many."""

        def work() -> int:
            stmt = delete(SentReply).where(SentReply.sent_at < utcnow() - older_than)
            with session_scope(self._sessions) as session:
                return int(session.execute(stmt).rowcount or 0)

        return retry_on_locked(work)
