"""Untrusted input: request bodies up to a limit, depth-limited JSON, cleaned and capped texts."""

from __future__ import annotations

import json
import re
from typing import (
    Any,
    Mapping,
)

from sanic.exceptions import PayloadTooLarge
from sanic.request import Request

#: The longest text a channel hands to Rasa (characters); longer ones are cut at a word.
#: WhatsApp and Telegram texts are at most 4096 characters, the web chat page sends at most
#: 2000: this bounds what a forged or odd delivery can put into a tracker. NLU reads even less
#: (`components.length_guard`); the tracker, and so a ticket's chronology, keeps this much.
MESSAGE_TEXT_LIMIT = 10_000


#: The deepest JSON a webhook body may nest (Meta's and Telegram's payloads nest about 10).
JSON_MAX_DEPTH = 32


#: The longest string kept in the metadata a channel passes on (characters): profile names,
#: captions, file names. WhatsApp and Telegram captions are at most 1024 characters.
METADATA_TEXT_LIMIT = 1024


#: Shorter limits for some metadata keys (a name is shown in greetings).
METADATA_KEY_LIMITS: Mapping[str, int] = {"name": 128, "username": 64, "mime_type": 128}


#: Control characters no message needs (tab, line feed and carriage return are kept; NUL
#: breaks Postgres text columns and CSV exports) and lone UTF-16 surrogates (JSON can carry
#: "\ud800"; no UTF-8 encoder, database driver or log file accepts one).
_UNWANTED_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def json_object(body: bytes, *, max_depth: int = JSON_MAX_DEPTH) -> dict[str, Any] | None:
    """A request body parsed as a JSON object, its strings cleaned (see `clean_text`).

    Args:
        body: The raw body.
        max_depth: The deepest nesting accepted (the object itself is depth 1).

    Returns:
        The object; None for anything else: malformed JSON, another type (a list), numbers
        of thousands of digits, nesting deeper than `max_depth` (Python's parser raises
        RecursionError at about 1,000 levels, which is a 500 if nobody catches it).
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    try:
        cleaned = _clean_json(payload, max_depth)
    except ValueError:
        return None
    return cleaned if isinstance(cleaned, dict) else None


def _clean_json(value: Any, depth_left: int) -> Any:
    """`value` with every string (keys too) cleaned; ValueError when it nests too deep."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, (dict, list)):
        if depth_left <= 0:
            raise ValueError("JSON nested too deep")
        if isinstance(value, dict):
            return {
                clean_text(str(key)): _clean_json(item, depth_left - 1)
                for key, item in value.items()
            }
        return [_clean_json(item, depth_left - 1) for item in value]
    return value


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a dict, else an empty one (for reading untrusted JSON)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a list, else an empty one (for reading untrusted JSON)."""
    return value if isinstance(value, list) else []


def str_or_none(value: Any, *, scalars_only: bool = False) -> str | None:
    """`value` as a non-empty string, or None for None and "".

    Args:
        value: A JSON value.
        scalars_only: Give None for a dict or list too (instead of its `str()`).
    """
    if value is None or (scalars_only and isinstance(value, (dict, list))):
        return None
    text = str(value)
    return text if text else None


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body of a request to a streaming route (`stream=True`), read up to `limit` bytes.

    Sanic reads a non-streaming route's whole body before the handler runs, up to its global
    `REQUEST_MAX_SIZE` (100 MB by default, and the Rasa server's model upload needs it large);
    a streaming route reads it here, and stops at the limit. A body that is too large is left
    unread: Sanic then closes the connection instead of reading the rest.

    Args:
        request: The request.
        limit: The most bytes accepted.

    Returns:
        The body (b"" for none); None when it is larger than `limit`, announced
        (`Content-Length`) or actually sent (chunked).
    """
    length = (request.headers.get("content-length") or "").strip()
    if length.isdigit() and int(length) > limit:
        _stop_reading(request, limit)
        return None
    if request.body:  # already read (a non-streaming route)
        return bytes(request.body) if len(request.body) <= limit else None
    stream = request.stream
    if stream is None:
        return b""
    _stop_reading(request, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            chunk = await stream.read()
            if chunk is None:
                break
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except PayloadTooLarge:
        return None
    return b"".join(chunks)


def _stop_reading(request: Request, limit: int) -> None:
    """Make Sanic refuse (and close the connection) rather than read past `limit` bytes."""
    stream = request.stream
    if stream is not None and hasattr(stream, "request_max_size"):
        stream.request_max_size = limit


def clean_text(text: str) -> str:
    """`text` without the control characters no message needs (NUL among them), and with
    lone surrogates replaced by U+FFFD; the same object when there are none."""
    if not _UNWANTED_CHARACTERS.search(text):
        return text
    return _UNWANTED_CHARACTERS.sub(
        lambda match: "\ufffd" if "\ud800" <= match.group() <= "\udfff" else "", text
    )


def cut_text(text: str, limit: int) -> str:
    """The start of `text`, at most `limit` characters, ending at a word boundary.

    The cut is made at the last white space within the limit when that keeps at least half of
    it (a text without spaces is cut hard at the limit); trailing white space is dropped. No
    "…" is added: the result is what the citizen wrote, only shorter.

    Args:
        text: The text.
        limit: The most characters (> 0).

    Returns:
        `text` itself when it is not longer than `limit`.

    Raises:
        ValueError: For `limit` <= 0.
    """
    if limit <= 0:
        raise ValueError("limit must be > 0")
    if len(text) <= limit:
        return text
    start = text[:limit]
    if not text[limit].isspace():
        boundary = max(start.rfind(" "), start.rfind("\n"), start.rfind("\t"))
        if boundary >= limit // 2:
            start = start[:boundary]
    return start.rstrip()


def cap_text(text: str, limit: int = MESSAGE_TEXT_LIMIT) -> str:
    """A user's text as a channel hands it to Rasa: cleaned and at most `limit` characters."""
    return cut_text(clean_text(text), limit)


def cap_metadata(
    metadata: Mapping[str, Any],
    *,
    text_limit: int = METADATA_TEXT_LIMIT,
    key_limits: Mapping[str, int] = METADATA_KEY_LIMITS,
) -> dict[str, Any]:
    """The metadata a channel passes on, every string cleaned and shortened.

    The channels build their metadata from a fixed set of keys, so capping each string bounds
    the whole (a 10 MB profile name or caption once became a 20 MB tracker row).

    Args:
        metadata: The metadata (values: scalars, or mappings of them such as `media`).
        text_limit: The longest string (characters).
        key_limits: Shorter limits by key.

    Returns:
        A new dict; nested mappings are copied one level deep, other containers dropped.
    """

    def cap(key: str, value: Any) -> Any:
        if isinstance(value, str):
            return cut_text(clean_text(value), key_limits.get(key, text_limit))
        return value

    result: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, Mapping):
            result[key] = {
                str(k): cap(str(k), v)
                for k, v in value.items()
                if not isinstance(v, (Mapping, list, tuple))
            }
        elif not isinstance(value, (list, tuple)):
            result[key] = cap(key, value)
    return result
