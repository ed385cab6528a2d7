"""Meta's messaging windows: what may be sent how long after a citizen's last message.

Messenger and Instagram: a business may answer freely (`messaging_type: RESPONSE`) for 24
hours after the citizen's last message. After that, only a human agent's reply may go out,
tagged `HUMAN_AGENT`, for 7 days after that message; anything else is not sent (`send_mode`).

WhatsApp: free-form messages only within the 24-hour customer service window; after it, only
an approved message template (`window_open`).

`last_inbound` reads when the citizen last wrote (the shared inbox's `inbound_message`); the
rest is pure; the windows themselves are `helpdesk.handoff.reply_window`'s (the desk and its
worker apply them to agents' replies).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from connectors.common.stores import inbound_repository
from connectors.common.text import mask_id
from helpdesk.handoff.reply_window import HUMAN_AGENT_WINDOW, STANDARD_WINDOW, window_open

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.storage.inbound_messages import InboundMessageRepository

__all__ = [
    "HUMAN_AGENT",
    "HUMAN_AGENT_WINDOW",
    "RESPONSE",
    "STANDARD_WINDOW",
    "UNKNOWN",
    "SendMode",
    "Unknown",
    "last_inbound",
    "send_mode",
    "window_open",
]


class Unknown:
    """When the citizen last wrote could not be read (the database failed)."""


#: `last_inbound`'s answer when the time could not be read.
UNKNOWN = Unknown()


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


async def last_inbound(
    injected: "InboundMessageRepository" | None,
    channel: str,
    recipient_id: str,
    log: logging.Logger,
) -> datetime | None | Unknown:
    """When `recipient_id` last wrote on `channel`: a time, None (never, or so long ago that
    the record is gone), or `UNKNOWN` when the database could not be read (logged; the
    caller then lets the platform decide)."""
    try:
        repository = inbound_repository(injected)
        return await asyncio.to_thread(repository.last_received, channel, recipient_id)
    except Exception as exc:  # the database: let the platform decide rather than hold it back
        log.warning(
            "%s: could not read when %s last wrote (%s); sending as a response",
            channel,
            mask_id(recipient_id),
            type(exc).__name__,
        )
        return UNKNOWN
