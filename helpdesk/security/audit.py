"""The audit trail: who looked up what, and what agents and admins did, in a tamper-evident log.

`AuditTrail.record` appends one act (actor, action, masked target, result class, masked
detail) to `audit_event`, chained to the record before it by a hash
(`helpdesk.storage.audit.chain_hash`). `verify` walks the chain and names the first record
whose content or link does not match: a record altered, removed or inserted afterwards is
found; removing the newest records is found against an anchor (a head hash an auditor kept
from an earlier check or export). `export` writes the records as JSON lines that
`verify_export` checks again, off the database, on the auditor's machine.

Nothing personal goes into the trail in full: identifiers are masked (`mask_identifier`,
`mask_identifiers`) before they are recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any, Iterable, Iterator, Mapping

from helpdesk.security.masking import mask_identifier, mask_identifiers, mask_phone
from helpdesk.storage.audit import (
    GENESIS,
    AuditFilter,
    AuditRecord,
    AuditRepository,
)

#: Result classes of a self-service lookup.
#: "error": the backend was down or answered wrongly; "failed": the helpdesk's own code failed.
LOOKUP_RESULTS = ("found", "not_found", "refused", "limited", "error", "failed")


def lookup_result(error: BaseException | None) -> str:
    """The result class of a lookup that ended with `error` (None: it found something)."""
    from helpdesk.backends.errors import BackendError, NotFound, Rejected

    if error is None:
        return "found"
    if isinstance(error, NotFound):
        return "not_found"
    if isinstance(error, Rejected):
        return "refused"
    if isinstance(error, BackendError):
        return "error"
    return "failed"


def citizen_actor(channel: str | None, sender_id: str) -> str:
    """The actor of a citizen's act: channel and masked sender ("whatsapp:62812****7890")."""
    sender = str(sender_id or "")
    shown = mask_phone(sender) if sender.isdigit() else mask_identifiers(sender)
    return f"{channel or 'unknown'}:{shown}"


def desk_actor(username: str) -> str:
    """The actor of a desk user's act ("desk:siti")."""
    return f"desk:{username}"


def identifier_target(kind: str, value: str) -> str:
    """A looked-up identifier as recorded: its kind and masked value ("nik:3201********0001")."""
    return f"{kind}:{mask_identifier(value)}"


def _masked(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """The detail with every text value's identifiers masked (lists and nested maps too)."""

    def mask(value: Any) -> Any:
        if isinstance(value, str):
            return mask_identifiers(value)
        if isinstance(value, Mapping):
            return {str(k): mask(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [mask(v) for v in value]
        return value

    return {str(k): mask(v) for k, v in (detail or {}).items()}


@dataclass(frozen=True)
class Verification:
    """What a walk of the chain found."""

    checked: int
    head: str
    broken_at: int | None = None
    reason: str = ""
    anchor_found: bool | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None and self.anchor_found is not False

    def describe(self) -> str:
        """One line for the operator."""
        if self.broken_at is not None:
            return f"BROKEN at record {self.broken_at}: {self.reason} ({self.checked} checked)"
        if self.anchor_found is False:
            return (
                f"BROKEN: the anchor is not in the chain ({self.checked} records, head "
                f"{self.head}): records were removed or replaced"
            )
        anchored = ", anchor found" if self.anchor_found else ""
        return f"OK: {self.checked} records, head {self.head}{anchored}"


def verify_records(records: Iterable[AuditRecord], *, anchor: str | None = None) -> Verification:
    """Check that each record's hash matches its content and links to the record before.

    Args:
        records: The chain, oldest first (from the store or from an export).
        anchor: A head hash kept from an earlier check; it must still be in the chain.
    """
    previous = GENESIS
    checked = 0
    anchor_found = None if not anchor else False
    for record in records:
        if record.prev_hash != previous:
            return Verification(checked, previous, record.id, "does not link to the record before")
        if record.expected_hash() != record.hash:
            return Verification(checked, previous, record.id, "content does not match its hash")
        previous = record.hash
        checked += 1
        if anchor and record.hash == anchor:
            anchor_found = True
    return Verification(checked, previous, anchor_found=anchor_found)


def read_export(stream: IO[str]) -> Iterator[AuditRecord]:
    """The records of an export, in its order.

    Raises:
        ValueError: On a line that is not an audit record (with its line number).
    """
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            yield AuditRecord.from_dict(json.loads(line))
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from exc


class AuditTrail:
    """Record acts and check the chain (`Services.audit`)."""

    def __init__(self, repository: AuditRepository) -> None:
        self.repository = repository

    def record(
        self,
        actor: str,
        action: str,
        *,
        result: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Append one act; text in `target` and `detail` has its identifiers masked.

        Raises:
            Exception: Whatever the store raises: a caller that must not act unaudited
                (a lookup) refuses to go on.
        """
        return self.repository.append(
            actor=mask_identifiers(actor),
            action=action,
            target=mask_identifiers(target),
            result=result,
            detail=_masked(detail),
        )

    def lookup(
        self,
        channel: str | None,
        sender_id: str,
        kind: str,
        identifier: str,
        result: str,
        *,
        service: str | None = None,
    ) -> AuditRecord:
        """Record a citizen's self-service lookup of `identifier` (a NIK, an SP2D number...)
        as "lookup.<service>" (default: the identifier's kind)."""
        return self.record(
            citizen_actor(channel, sender_id),
            f"lookup.{service or kind}",
            target=identifier_target(kind, identifier),
            result=result,
        )

    def verify(self, *, anchor: str | None = None) -> Verification:
        """Walk the whole chain in the store."""
        return verify_records(self.repository.walk(), anchor=anchor)

    def export(self, stream: IO[str], where: AuditFilter | None = None) -> int:
        """Write the records matching `where` as JSON lines, oldest first; returns the count.

        A filtered export keeps each record's hashes: the records verify one by one, the
        links between them only where nothing was filtered out.
        """
        count = 0
        for record in self.repository.matching(where or AuditFilter()):
            stream.write(json.dumps(record.as_dict(), ensure_ascii=False) + "\n")
            count += 1
        return count
