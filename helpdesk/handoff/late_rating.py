"""A rating of an agent's service that arrives in a later session (pure over two repositories).

After a handoff ends the bot asks for the agent rating in the same conversation (csat form).
On WhatsApp, when the citizen's last message is more than 24 hours old, the question goes out
as the approved template `penilaian_layanan_petugas`, whose buttons send `/rate_agent{"number":
"N"}`; a tap then comes hours or days later, in a new Rasa session where no form waits for it.
`rate_last_handoff` stores it for the citizen's latest handoff when that one was resolved
recently and has no rating yet.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from helpdesk.storage.enums import CsatKind, HandoffStatus

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.storage.feedback import CsatRepository
    from helpdesk.storage.handoffs import HandoffRepository

#: How long after a handoff ended a late rating is still taken for it.
LATE_RATING_WINDOW = timedelta(days=8)


class LateRating(enum.Enum):
    """What became of a late rating."""

    STORED = "stored"
    #: The handoff was rated already (in the form, or by an earlier tap): not stored again.
    ALREADY_RATED = "already_rated"
    #: No recently resolved handoff of this citizen to rate.
    NO_HANDOFF = "no_handoff"


def rate_last_handoff(
    handoffs: "HandoffRepository",
    csat: "CsatRepository",
    sender_id: str,
    rating: int,
    now: datetime,
) -> LateRating:
    """Store `rating` (1-5) for the citizen's latest handoff, if it may still be rated.

    Raises:
        ValueError: For a rating outside 1-5.
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValueError(f"rating must be an integer from 1 to 5, got {rating!r}")
    handoff = handoffs.latest_for(sender_id)
    if (
        handoff is None
        or handoff.status != HandoffStatus.RESOLVED
        or handoff.ended_at is None
        or now - handoff.ended_at > LATE_RATING_WINDOW
    ):
        return LateRating.NO_HANDOFF
    if csat.agent_rated(handoff.id):
        return LateRating.ALREADY_RATED
    stored = csat.add(
        sender_id,
        rating,
        kind=CsatKind.AGENT,
        handoff_id=handoff.id,
        submission_key=f"late-agent-rating:{handoff.id}",
    )
    return LateRating.STORED if stored else LateRating.ALREADY_RATED
