"""Meta's messaging windows; moved to `connectors.common.window` (WhatsApp uses them too)."""

from connectors.common.window import (
    HUMAN_AGENT,
    HUMAN_AGENT_WINDOW,
    RESPONSE,
    STANDARD_WINDOW,
    SendMode,
    send_mode,
)

__all__ = [
    "HUMAN_AGENT",
    "HUMAN_AGENT_WINDOW",
    "RESPONSE",
    "STANDARD_WINDOW",
    "SendMode",
    "send_mode",
]
