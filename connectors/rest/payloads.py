"""REST request bodies as `RestMessage`s (pure parsing and validation, no I/O)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from connectors.common import (
    cap_metadata,
    cap_text,
)

#: The channel name: URL prefix `/webhooks/rest`, `input_channel` of its messages.
CHANNEL_NAME = "rest"


#: The largest request body accepted (bytes); larger ones get 413 unread.
BODY_LIMIT = 64 * 1024


#: The longest sender id (characters); Rasa's tracker store keeps 255.
SENDER_LIMIT = 128


#: The largest `metadata` accepted, as compact JSON (bytes).
METADATA_LIMIT = 4 * 1024


_SCALARS = (str, int, float, bool, type(None))


class RestRequestError(ValueError):
    """A request the channel refuses: its HTTP status, error code and English message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RestMessage:
    """A valid request: who writes, what, and the metadata kept for Rasa."""

    sender: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _bad(code: str, message: str) -> RestRequestError:
    return RestRequestError(400, code, message)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_clean(text: str) -> bool:
    """No NUL character and no lone surrogate (neither survives storage or logging)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _all_clean(value: Any) -> bool:
    """`_is_clean` for every string (keys too) in a parsed JSON value (depth-limited by the
    parser and the body limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _is_clean(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _is_scalar(value: Any) -> bool:
    return isinstance(value, _SCALARS) and not (isinstance(value, float) and math.isinf(value))


def clean_metadata(value: Any) -> dict[str, Any]:
    """The metadata Rasa gets from a request's `metadata`.

    Keeps entries whose value is a scalar or an object of scalars (lists and deeper objects are
    left out) and sets `channel` to "rest" (the caller does not choose it).

    Raises:
        RestRequestError: 400 when `metadata` is neither absent, null nor an object, or is
            over `METADATA_LIMIT` bytes as JSON.
    """
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _bad("invalid_metadata", "metadata must be a JSON object")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > METADATA_LIMIT:
        raise _bad("metadata_too_large", f"metadata must be at most {METADATA_LIMIT} bytes")
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if _is_scalar(item):
            kept[key] = item
        elif isinstance(item, dict) and all(_is_scalar(v) for v in item.values()):
            kept[key] = dict(item)
    kept = cap_metadata(kept)
    kept["channel"] = CHANNEL_NAME
    return kept


def parse_body(body: bytes) -> RestMessage:
    """A request body as a `RestMessage`.

    Raises:
        RestRequestError: 400 for anything but a JSON object with a valid string `sender`
            and `message` (see the module docstring).
    """
    if not body or not body.strip():
        raise _bad("empty_body", "the body must be a JSON object with sender and message")
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _bad("invalid_json", "the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise _bad("invalid_json", "the body must be a JSON object with sender and message")
    if not _all_clean(payload):
        raise _bad("invalid_characters", "the body holds NUL characters or unpaired surrogates")
    sender, text = payload.get("sender"), payload.get("message")
    if not isinstance(sender, str) or not sender.strip():
        raise _bad("invalid_sender", "sender must be a non-empty string")
    if len(sender) > SENDER_LIMIT:
        raise _bad("invalid_sender", f"sender must be at most {SENDER_LIMIT} characters")
    if not sender.isprintable():
        raise _bad("invalid_sender", "sender must not hold control characters or line breaks")
    if not isinstance(text, str):
        raise _bad("invalid_message", "message must be a string")
    channel = payload.get("input_channel")
    if channel is not None and channel != CHANNEL_NAME:
        raise _bad("invalid_input_channel", "input_channel cannot be set on this channel")
    return RestMessage(sender, cap_text(text), clean_metadata(payload.get("metadata")))
