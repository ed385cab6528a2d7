"""Repository of the audit trail (`audit_event`): append-only, each row chained by a hash.

`chain_hash` is the record's integrity: the SHA-256 of the previous row's hash and the row's
own content in one canonical form. `append` reads the head and writes after it in one unit of
work. On PostgreSQL appends take a transaction-scoped advisory lock, so writers (processes,
servers) queue for the head; SQLite's write lock does the same there. `prev_hash` is unique
besides: of two writers that read the same head only one appends after it, and the other
reads the new head and tries again. Rows are never
updated or deleted here: no method does.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import AuditEvent, utcnow

#: The `prev_hash` of the first record.
GENESIS = "0" * 64
#: Appends tried when other writers keep taking the head meanwhile (with a jittered pause).
_APPEND_ATTEMPTS = 30
#: The threads of one process append one at a time (other processes: the retries above).
_APPEND_LOCK = threading.Lock()
#: The PostgreSQL advisory lock appends take ("audit" as a number).
_PG_LOCK = int.from_bytes(b"audit", "big")


def canonical_detail(detail: Mapping[str, Any] | None) -> str:
    """The stored (and hashed) form of a record's detail: compact JSON, keys sorted."""
    return json.dumps(
        dict(detail or {}), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


def chain_hash(
    prev_hash: str, at: datetime, actor: str, action: str, target: str, result: str, detail: str
) -> str:
    """The hash of a record: SHA-256 over the previous hash and the content, as JSON."""
    payload = json.dumps(
        [prev_hash, _iso(at), actor, action, target, result, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    """One audited act as stored (or as read back from an export)."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    result: str
    detail_text: str
    prev_hash: str
    hash: str
    detail: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def expected_hash(self) -> str:
        """The hash this record's content and link call for."""
        return chain_hash(
            self.prev_hash,
            self.at,
            self.actor,
            self.action,
            self.target,
            self.result,
            self.detail_text,
        )

    def as_dict(self) -> dict[str, Any]:
        """The record as one JSON object (the export's line)."""
        return {
            "id": self.id,
            "at": _iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "result": self.result,
            "detail": self.detail_text,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AuditRecord":
        """Read one export line back.

        Raises:
            ValueError: When a field is missing or of the wrong type.
        """
        try:
            at = datetime.fromisoformat(str(data["at"]))
            values = {
                name: data[name]
                for name in ("actor", "action", "target", "result", "prev_hash", "hash")
            }
            detail_text = data["detail"]
            record_id = data["id"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an audit record: {exc}") from exc
        if not all(isinstance(v, str) for v in values.values()) or not isinstance(detail_text, str):
            raise ValueError("not an audit record: a text field is not text")
        if not isinstance(record_id, int) or at.utcoffset() is None:
            raise ValueError("not an audit record: bad id or time")
        return cls(id=record_id, at=at, detail_text=detail_text, **values)


def _record(row: AuditEvent) -> AuditRecord:
    try:
        detail = json.loads(row.detail or "{}")
    except ValueError:
        detail = {}
    return AuditRecord(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target or "",
        result=row.result,
        detail_text=row.detail or "",
        prev_hash=row.prev_hash,
        hash=row.hash,
        detail=detail if isinstance(detail, dict) else {},
    )


@dataclass(frozen=True)
class AuditFilter:
    """What the desk's audit page and `helpdesk audit export` select; empty fields match all.

    `action` matches a prefix ("desk.admin" selects every admin action).
    """

    actor: str = ""
    action: str = ""
    result: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, stmt: Any) -> Any:
        _check_aware(self.since, "since")
        _check_aware(self.until, "until")
        if self.actor:
            stmt = stmt.where(AuditEvent.actor == self.actor)
        if self.action:
            stmt = stmt.where(AuditEvent.action.startswith(self.action, autoescape=True))
        if self.result:
            stmt = stmt.where(AuditEvent.result == self.result)
        if self.target:
            stmt = stmt.where(AuditEvent.target.startswith(self.target, autoescape=True))
        if self.since is not None:
            stmt = stmt.where(AuditEvent.at >= self.since)
        if self.until is not None:
            stmt = stmt.where(AuditEvent.at < self.until)
        return stmt


class AuditRepository(_Repository):
    """Append to and read the audit trail."""

    def append(
        self,
        *,
        actor: str,
        action: str,
        target: str = "",
        result: str,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Add a record after the current head.

        Raises:
            IntegrityError: When other writers took the head on every attempt.
        """
        detail_text = canonical_detail(detail)
        values = {
            "actor": actor[:255],
            "action": action[:100],
            "target": target[:255],
            "result": result[:40],
        }

        def work() -> AuditRecord:
            with session_scope(self._sessions) as session:
                if session.get_bind().dialect.name == "postgresql":
                    # Writers queue for the head instead of racing for it (released at commit).
                    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
                head = session.scalar(
                    select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
                )
                prev_hash = head or GENESIS
                at = utcnow()
                row = AuditEvent(
                    at=at,
                    detail=detail_text,
                    prev_hash=prev_hash,
                    hash=chain_hash(prev_hash, at, detail=detail_text, **values),
                    **values,
                )
                session.add(row)
                session.flush()
                return _record(row)

        for attempt in range(_APPEND_ATTEMPTS):
            try:
                with _APPEND_LOCK:
                    return retry_on_locked(work)
            except IntegrityError:
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.002, 0.02) * (1 + attempt))  # noqa: S311 - jitter
        raise AssertionError("unreachable")  # pragma: no cover

    def walk(self, *, batch: int = 1000, after_id: int = 0) -> Iterator[AuditRecord]:
        """Every record after `after_id`, oldest first, read in batches."""
        return self.matching(AuditFilter(), batch=batch, after_id=after_id)

    def search(
        self, where: AuditFilter | None = None, *, limit: int = 50, before_id: int | None = None
    ) -> list[AuditRecord]:
        """The newest records matching `where` (older than `before_id`: the next page)."""
        stmt = (
            (where or AuditFilter())
            .apply(select(AuditEvent))
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            stmt = stmt.where(AuditEvent.id < before_id)
        with session_scope(self._sessions) as session:
            return [_record(row) for row in session.scalars(stmt)]

    def matching(
        self, where: AuditFilter, *, batch: int = 1000, after_id: int = 0
    ) -> Iterator[AuditRecord]:
        """Every record matching `where` after `after_id`, oldest first, read in batches."""
        last = after_id
        while True:
            stmt = (
                where.apply(select(AuditEvent))
                .where(AuditEvent.id > last)
                .order_by(AuditEvent.id)
                .limit(batch)
            )
            with session_scope(self._sessions) as session:
                rows = [_record(row) for row in session.scalars(stmt)]
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1].id

    def count(self) -> int:
        """How many records the trail holds."""
        with session_scope(self._sessions) as session:
            return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    def actions(self) -> list[str]:
        """The distinct actions recorded (the desk's filter choices)."""
        with session_scope(self._sessions) as session:
            stmt = select(AuditEvent.action).distinct().order_by(AuditEvent.action)
            return [str(a) for a in session.scalars(stmt)]
