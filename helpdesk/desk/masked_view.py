"""What officers see of citizens' identifiers in a conversation: masked by default.

NIKs, NIPs, phone, account and SP2D numbers and e-mail addresses inside messages, questions
and flow data are shown masked ("************0001", "bu***@co***.go.id"). The officer the
conversation is assigned to, and supervisors and admins, may show them in full when the
case needs it ("Tampilkan data lengkap"): each view that delivers full data is recorded in the
audit trail (`desk.conversations.unmasked_view`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, TypeVar

from helpdesk.security.masking import mask_identifiers

T = TypeVar("T")
#: The query parameter of a view in full.
REVEAL_PARAM = "lengkap"
#: The audit action of a view in full.
UNMASKED_VIEW = "desk.conversations.unmasked_view"


def may_reveal(user: Any, handoff: Any) -> bool:
    """Whether the user may see the conversation's identifiers in full: the officer it is
    assigned to, or a supervisor or admin."""
    return bool(
        user.is_supervisor or (handoff.agent_id is not None and handoff.agent_id == user.id)
    )


def masked(records: Iterable[T], *fields: str) -> list[T]:
    """Copies of frozen records with the identifiers in `fields` masked."""
    out = []
    for record in records:
        changes = {
            name: mask_identifiers(value)
            for name in fields
            if isinstance(value := getattr(record, name), str)
        }
        out.append(replace(record, **changes) if changes else record)  # type: ignore[type-var]
    return out


def masked_data(records: Iterable[T], field: str = "data") -> list[T]:
    """Copies of records whose mapping `field` has its values masked."""
    return [
        replace(  # type: ignore[type-var]
            record,
            **{
                field: {
                    key: mask_identifiers(str(value))
                    for key, value in getattr(record, field).items()
                }
            },
        )
        for record in records
    ]
