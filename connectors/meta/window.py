"""Meta's messaging windows: what may be sent how long after a citizen's last message (pure).

A business may answer freely (`messaging_type: RESPONSE`) for 24 hours after the citizen's
last message. After that, only a human agent's reply may go out, tagged `HUMAN_AGENT`, for
7 days after that message; anything else is not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: The standard messaging window.
STANDARD_WINDOW = timedelta(hours=24)


#: How long after the citizen's last message a human agent may still answer (tagged).
HUMAN_AGENT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class SendMode:
    """How a message is sent: `messaging_type` and, for a tagged message, its `tag`."""

    messaging_type: str
    tag: str | None = None


RESPONSE = SendMode("RESPONSE")


HUMAN_AGENT = SendMode("MESSAGE_TAG", "HUMAN_AGENT")


def send_mode(
    last_inbound: datetime | None, now: datetime, *, agent_reply: bool
) -> SendMode | None:
    """How a message may go out now, or None when the platform allows none.

    Args:
        last_inbound: When the citizen's last message arrived (None: none is known).
        now: The current time (timezone-aware, like `last_inbound`).
        agent_reply: Whether the message is a human agent's reply (from the desk).

    Returns:
        `RESPONSE` inside the 24-hour window, `HUMAN_AGENT` for an agent's reply inside
        7 days, else None.
    """
    if last_inbound is None:
        return None
    age = now - last_inbound
    if age <= STANDARD_WINDOW:
        return RESPONSE
    if agent_reply and age <= HUMAN_AGENT_WINDOW:
        return HUMAN_AGENT
    return None
