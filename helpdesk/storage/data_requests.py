"""Repository of citizens' data requests (`data_request`) and e-mail codes
(`email_verification`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import delete, select, update

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import DataRequest, EmailVerification, utcnow

#: Kinds of request: a copy of one's data (UU PDP Pasal 7), its deletion (Pasal 8).
REQUEST_KINDS = ("access", "erasure")
#: States: waiting for a supervisor's approval, approved (to be carried out), carried out,
#: refused (with the reason, e.g. an exemption).
REQUEST_STATUSES = ("pending", "approved", "completed", "rejected")


@dataclass(frozen=True)
class DataRequestRecord:
    """A data request, detached from any session."""

    id: int
    reference: str
    kind: str
    status: str
    sender_id: str | None
    channel: str | None
    verified_by: str
    email: str | None
    legal_basis: str
    requested_at: datetime
    due_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str | None
    completed_at: datetime | None
    outcome: Mapping[str, Any]

    @property
    def is_open(self) -> bool:
        return self.status in ("pending", "approved")


def _record(row: DataRequest) -> DataRequestRecord:
    try:
        outcome = json.loads(row.outcome) if row.outcome else {}
    except ValueError:
        outcome = {}
    return DataRequestRecord(
        id=row.id,
        reference=row.reference,
        kind=row.kind,
        status=row.status,
        sender_id=row.sender_id,
        channel=row.channel,
        verified_by=row.verified_by,
        email=row.email,
        legal_basis=row.legal_basis,
        requested_at=row.requested_at,
        due_at=row.due_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_note=row.decision_note,
        completed_at=row.completed_at,
        outcome=outcome if isinstance(outcome, dict) else {},
    )


class DataRequestRepository(_Repository):
    """Store, decide and close data requests."""

    def add(
        self,
        *,
        reference: str,
        kind: str,
        status: str,
        sender_id: str,
        channel: str | None,
        verified_by: str,
        email: str | None,
        legal_basis: str,
        requested_at: datetime,
        due_at: datetime,
    ) -> DataRequestRecord:
        """Store a new request."""
        if kind not in REQUEST_KINDS or status not in REQUEST_STATUSES:
            raise ValueError(f"bad data request kind {kind!r} or status {status!r}")
        _check_aware(due_at, "due_at")
        _check_aware(requested_at, "requested_at")

        def work() -> DataRequestRecord:
            with session_scope(self._sessions) as session:
                row = DataRequest(
                    reference=reference,
                    kind=kind,
                    status=status,
                    sender_id=sender_id,
                    channel=channel,
                    verified_by=verified_by,
                    email=email,
                    legal_basis=legal_basis,
                    requested_at=requested_at,
                    due_at=due_at,
                )
                session.add(row)
                session.flush()
                return _record(row)

        return retry_on_locked(work)

    def get(self, request_id: int) -> DataRequestRecord | None:
        with session_scope(self._sessions) as session:
            row = session.get(DataRequest, request_id)
            return _record(row) if row is not None else None

    def open_for(self, sender_id: str, kind: str) -> DataRequestRecord | None:
        """The sender's open request of this kind, if any (asked twice: one request)."""
        stmt = (
            select(DataRequest)
            .where(
                DataRequest.sender_id == sender_id,
                DataRequest.kind == kind,
                DataRequest.status.in_(("pending", "approved")),
            )
            .order_by(DataRequest.id.desc())
            .limit(1)
        )
        with session_scope(self._sessions) as session:
            row = session.scalars(stmt).first()
            return _record(row) if row is not None else None

    def recent(self, *, status: str | None = None, limit: int = 200) -> list[DataRequestRecord]:
        """Requests, newest first (of one status when given)."""
        stmt = select(DataRequest).order_by(DataRequest.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(DataRequest.status == status)
        with session_scope(self._sessions) as session:
            return [_record(row) for row in session.scalars(stmt)]

    def approved(self, kind: str) -> list[DataRequestRecord]:
        """Approved requests of `kind`, oldest first (the job's work)."""
        stmt = (
            select(DataRequest)
            .where(DataRequest.kind == kind, DataRequest.status == "approved")
            .order_by(DataRequest.id)
        )
        with session_scope(self._sessions) as session:
            return [_record(row) for row in session.scalars(stmt)]

    def decide(
        self, request_id: int, *, status: str, by: str, note: str | None = None
    ) -> DataRequestRecord | None:
        """Approve or refuse a pending request; None when it is no longer pending."""
        if status not in ("approved", "rejected"):
            raise ValueError(f"a decision is approved or rejected, not {status!r}")

        def work() -> DataRequestRecord | None:
            with session_scope(self._sessions) as session:
                done = session.execute(
                    update(DataRequest)
                    .where(DataRequest.id == request_id, DataRequest.status == "pending")
                    .values(status=status, decided_at=utcnow(), decided_by=by, decision_note=note)
                    .execution_options(synchronize_session=False)
                )
                if done.rowcount != 1:
                    return None
                return _record(session.get(DataRequest, request_id))

        return retry_on_locked(work)

    def complete(
        self, request_id: int, outcome: Mapping[str, Any], *, forget_requester: bool = False
    ) -> DataRequestRecord | None:
        """Mark an open request carried out, with what was found or done; after an erasure
        the requester's sender id and e-mail are cleared (`forget_requester`)."""

        def work() -> DataRequestRecord | None:
            with session_scope(self._sessions) as session:
                values: dict[str, Any] = {
                    "status": "completed",
                    "completed_at": utcnow(),
                    "outcome": json.dumps(dict(outcome), ensure_ascii=False, sort_keys=True),
                }
                if forget_requester:
                    values.update(sender_id=None, email=None)
                done = session.execute(
                    update(DataRequest)
                    .where(
                        DataRequest.id == request_id,
                        DataRequest.status.in_(("pending", "approved")),
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if done.rowcount != 1:
                    return None
                return _record(session.get(DataRequest, request_id))

        return retry_on_locked(work)

    def forget_sender(self, sender_id: str, *, except_id: int) -> int:
        """After an erasure: the sender's other requests keep their reference, kind, dates
        and decision, not who asked (an open one is closed as overtaken by the erasure);
        their e-mail codes go. How many requests changed."""

        def work() -> int:
            with session_scope(self._sessions) as session:
                session.execute(
                    delete(EmailVerification)
                    .where(EmailVerification.sender_id == sender_id)
                    .execution_options(synchronize_session=False)
                )
                mine = (DataRequest.sender_id == sender_id) & (DataRequest.id != except_id)
                session.execute(
                    update(DataRequest)
                    .where(mine, DataRequest.status.in_(("pending", "approved")))
                    .values(
                        status="rejected",
                        decided_at=utcnow(),
                        decided_by="-",
                        decision_note="Digantikan oleh permintaan penghapusan data.",
                    )
                    .execution_options(synchronize_session=False)
                )
                done = session.execute(
                    update(DataRequest)
                    .where(mine)
                    .values(sender_id=None, email=None)
                    .execution_options(synchronize_session=False)
                )
                return int(done.rowcount or 0)

        return retry_on_locked(work)


class EmailVerificationRepository(_Repository):
    """E-mailed codes: issued, checked with a limited number of attempts."""

    def issue(
        self, sender_id: str, email: str, code_hash: str, *, now: datetime, expires_at: datetime
    ) -> None:
        """Store a new code for the sender (earlier ones stop counting)."""
        _check_aware(expires_at, "expires_at")
        _check_aware(now, "now")

        def work() -> None:
            with session_scope(self._sessions) as session:
                session.execute(
                    update(EmailVerification)
                    .where(
                        EmailVerification.sender_id == sender_id,
                        EmailVerification.verified_at.is_(None),
                    )
                    .values(expires_at=now)
                    .execution_options(synchronize_session=False)
                )
                session.add(
                    EmailVerification(
                        sender_id=sender_id,
                        email=email,
                        code_hash=code_hash,
                        attempts=0,
                        created_at=now,
                        expires_at=expires_at,
                    )
                )

        retry_on_locked(work)

    def check(
        self, sender_id: str, code_hash: str, *, now: datetime, max_attempts: int
    ) -> str | None | bool:
        """Check a code typed by the sender against their latest live code.

        Returns:
            The verified e-mail address; False for a wrong code (one attempt counted); None
            when there is no live code (expired, used up, or never sent).
        """

        def work() -> str | None | bool:
            with session_scope(self._sessions) as session:
                row = session.scalars(
                    select(EmailVerification)
                    .where(
                        EmailVerification.sender_id == sender_id,
                        EmailVerification.verified_at.is_(None),
                        EmailVerification.expires_at > now,
                        EmailVerification.attempts < max_attempts,
                    )
                    .order_by(EmailVerification.id.desc())
                    .limit(1)
                ).first()
                if row is None:
                    return None
                if row.code_hash != code_hash:
                    row.attempts += 1
                    return False
                row.verified_at = now
                return str(row.email)

        return retry_on_locked(work)
