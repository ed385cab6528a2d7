"""Repository of what citizens gave in the profile's guided flows (`flow_submission`).

A submission is stored when a flow ends; the officer who takes the conversation sees the
latest ones, and a ticket the conversation leads to carries them in its chronology.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from sqlalchemy import select

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import FlowSubmission, utcnow


@dataclass(frozen=True)
class FlowSubmissionRecord:
    """One flow's collected data (key -> what the citizen gave), detached from any session."""

    id: int
    sender_id: str
    channel: str | None
    flow_id: str
    flow_title: str
    data: Mapping[str, str]
    outcome: str
    created_at: datetime

    def summary(self) -> str:
        """The data as lines "key: value", in the order collected."""
        return "\n".join(f"{key}: {value}" for key, value in self.data.items())


def _record(row: FlowSubmission) -> FlowSubmissionRecord:
    try:
        data = json.loads(row.data or "{}")
    except ValueError:
        data = {}
    return FlowSubmissionRecord(
        id=row.id,
        sender_id=row.sender_id,
        channel=row.channel,
        flow_id=row.flow_id,
        flow_title=row.flow_title,
        data={str(k): str(v) for k, v in (data if isinstance(data, dict) else {}).items()},
        outcome=row.outcome,
        created_at=row.created_at,
    )


class FlowSubmissionRepository(_Repository):
    """Store and read flow submissions."""

    def add(
        self,
        sender_id: str,
        *,
        flow_id: str,
        flow_title: str,
        data: Mapping[str, str],
        outcome: str,
        channel: str | None = None,
    ) -> FlowSubmissionRecord:
        """Store what a flow collected and how it ended."""

        def work() -> FlowSubmissionRecord:
            with session_scope(self._sessions) as session:
                row = FlowSubmission(
                    sender_id=sender_id,
                    channel=channel,
                    flow_id=flow_id,
                    flow_title=flow_title[:255],
                    data=json.dumps(dict(data), ensure_ascii=False),
                    outcome=outcome[:300],
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                return _record(row)

        return retry_on_locked(work)

    def recent(
        self, sender_id: str, *, since: datetime, until: datetime | None = None
    ) -> list[FlowSubmissionRecord]:
        """The sender's submissions from `since` (up to `until`), oldest first."""
        _check_aware(since, "since")
        _check_aware(until, "until")
        stmt = (
            select(FlowSubmission)
            .where(FlowSubmission.sender_id == sender_id, FlowSubmission.created_at >= since)
            .order_by(FlowSubmission.created_at, FlowSubmission.id)
        )
        if until is not None:
            stmt = stmt.where(FlowSubmission.created_at <= until)
        with session_scope(self._sessions) as session:
            return [_record(row) for row in session.scalars(stmt)]
