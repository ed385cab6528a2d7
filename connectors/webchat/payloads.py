"""What the web chat's socket.io clients send: session ids and limits (pure)."""

from __future__ import annotations

import re
from typing import Any, Mapping

#: The channel name: the URL prefix `/webhooks/webchat`.
CHANNEL_NAME = "webchat"


#: Session ids the socket.io channel issues and accepts: `uuid4().hex`.
SESSION_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


#: Longer user messages are dropped (the page allows 2000 characters; WhatsApp 4096).
MESSAGE_LIMIT = 4096


#: The largest Engine.IO packet (a socket.io event) and long-polling request body accepted
#: (bytes): a message of `MESSAGE_LIMIT` characters, JSON-escaped (up to 12 bytes each), fits.
#: python-engineio's default is 1 MB, and Sanic reads a polling POST whole (up to its global
#: 100 MB) before Engine.IO looks at it.
PACKET_LIMIT = 64 * 1024


#: The metadata of every socket.io message (client-sent metadata is not trusted).
SOCKETIO_METADATA: Mapping[str, str] = {"channel": "socketio"}


def is_session_id(value: Any) -> bool:
    """Whether `value` has the form of a session id this channel issues."""
    return isinstance(value, str) and SESSION_ID_PATTERN.fullmatch(value) is not None
