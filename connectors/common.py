"""What the WhatsApp and Telegram channels share (and the health route of the web chat).

One version of each piece of logic the channels both need, parameterised where they really
differ:

* credentials: `clean_credential`, `read_credentials`, `missing_credentials`,
  `missing_message`, `base_url`, `check_retry_settings`;
* reading webhook JSON: `json_object` (depth-limited, strings cleaned), `as_dict`, `as_list`,
  `str_or_none`;
* untrusted input: `read_body` (a request body up to a limit, for streaming routes),
  `clean_text`, `cut_text`, `cap_text` (`MESSAGE_TEXT_LIMIT`), `cap_metadata`;
* logs: `mask_id` (only the last four characters of a sender id), `failure_trace` (an
  exception's type and frames, never its message);
* long button payloads: `ShortIds` (WhatsApp: reply ids of 256 characters, Telegram:
  `callback_data` of 64 UTF-8 bytes);
* texts: `split_text` (WhatsApp counts characters, Telegram UTF-16 code units), `one_line`,
  `head`, `shorten`, `choices`;
* the input channels: `OnNewMessage`, `add_health_route`;
* conversations kept on one channel: `conversation_channel`, `ConversationGuard`.

Nothing here logs on its own: the channels log under their own logger names
(`connectors.whatsapp`, ...), passed in where a helper reports something.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import traceback
from collections import OrderedDict
from typing import (
    Any,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

#: What ends a shortened text.
ELLIPSIS = "…"
#: Where a long text is cut, best first: a paragraph break, a line break, a space.
SEPARATORS = ("\n\n", "\n", " ")

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

#: Rasa's message handler, as given to `InputChannel.blueprint`.
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


# --------------------------------------------------------------------------- credentials


def clean_credential(value: Any) -> str:
    """A credential value as a stripped string; "" for None and for an unexpanded `${VAR}`."""
    if value is None:
        return ""
    text = str(value).strip()
    if text.startswith("${") and text.endswith("}"):
        return ""
    return text


def missing_credentials(values: Mapping[str, Any], env_names: Mapping[str, str]) -> list[str]:
    """The required credentials that are missing or empty, as "key (ENV_NAME)".

    Args:
        values: The credential values by key.
        env_names: The required keys (in the order to name them) and their environment
            variables.
    """
    return [
        f"{key} ({env_name})"
        for key, env_name in env_names.items()
        if not clean_credential(values.get(key))
    ]


def read_credentials(
    credentials: Mapping[str, Any] | None,
    required: Mapping[str, str],
    optional: Mapping[str, str],
    *,
    env_name_keys: bool,
) -> tuple[dict[str, str], list[str]]:
    """A channel's credentials.yml block, cleaned, and what it lacks.

    Args:
        credentials: The block (None when empty).
        required: The required keys and the environment variables that fill them.
        optional: The optional keys and their environment variables.
        env_name_keys: Accept the environment variable's name as a key too
            (`WHATSAPP_ACCESS_TOKEN: ...` for `access_token`); the lower-case key wins.

    Returns:
        Every key of `required` and `optional` with its cleaned value ("" when not given), and
        the missing required ones as "key (ENV_NAME)".
    """
    block = credentials or {}
    values = {
        key: clean_credential(block.get(key))
        or (clean_credential(block.get(env_name)) if env_name_keys else "")
        for key, env_name in {**required, **optional}.items()
    }
    return values, missing_credentials(values, required)


def missing_message(
    channel: str, module_path: str, missing: Iterable[str], *, what: str = "credentials"
) -> str:
    """The error that stops a channel for lack of credentials.

    Args:
        channel: The channel's name for people ("WhatsApp").
        module_path: The file whose docstring shows the credentials.yml block.
        missing: What is missing, in order.
        what: What they are ("credentials", "environment variables").
    """
    return (
        f"The {channel} channel cannot start: {what} missing or empty: {', '.join(missing)}. "
        f"Set them in the environment (credentials.yml block: see {module_path})."
    )


def base_url(value: Any, default: str) -> str:
    """An API base URL from a credential: `default` when it is empty, no trailing "/"."""
    return (clean_credential(value) or default).rstrip("/")


def check_retry_settings(timeout: float, attempts: int, backoff: float) -> None:
    """Refuse a non-positive timeout or number of attempts, or a negative backoff.

    Raises:
        ValueError: For such a setting.
    """
    if timeout <= 0 or attempts < 1 or backoff < 0:
        raise ValueError("timeout and attempts must be > 0, backoff >= 0")


# --------------------------------------------------------------------------- webhook JSON


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


# --------------------------------------------------------------------------- untrusted input


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


# --------------------------------------------------------------------------- logs


def mask_id(value: Any) -> str:
    """A phone number, chat or user id for logs: only its last four characters ("***7890").

    None and "" give "***". (`helpdesk.backends.masking.mask_digits` is for replies: it keeps
    the length and gives "" for nothing, which logs should not show.)
    """
    text = "" if value is None else str(value)
    return "***" + text[-4:] if text else "***"


def failure_trace(error: BaseException) -> str:
    """An exception for logs: its type and where it was raised, never its message.

    Messages of exceptions raised while a user's message is handled can quote it (a parser
    that names the text it could not read); the frames hold only file names, lines and code.
    """
    frames = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    name = type(error).__name__
    return f"{name} (message withheld)\n{frames}" if frames else name


# --------------------------------------------------------------------------- button payloads


class ShortIds:
    """Maps button payloads to ids a channel can carry, and back (thread-safe).

    A payload that `fits` is its own id, so a tap comes back as exactly the payload the
    assistant offered ("/affirm", `/menu_select{"number":"7"}`). A longer one (e.g. an FAQ
    question), or one that starts with `prefix`, gets `prefix` and the first `digest_chars` hex
    digits of its SHA-256 as its id, remembered here (in this process, the most recent
    `max_entries`). An id with the prefix that this process does not know (any more) gives
    None, and the caller falls back to the tapped button's title.
    """

    def __init__(
        self,
        prefix: str,
        fits: Callable[[str], bool],
        digest_chars: int = 64,
        *,
        max_entries: int = 10_000,
    ) -> None:
        """Create an empty mapping.

        Args:
            prefix: What starts every hash id ("wa-payload:", "tg:").
            fits: Whether a payload can be sent as it is (the channel's limit).
            digest_chars: How many hex digits of the SHA-256 a hash id has (1 to 64).
            max_entries: How many hash ids are remembered.

        Raises:
            ValueError: For an empty prefix, `digest_chars` out of range, a hash id that
                would not fit itself, or `max_entries` <= 0.
        """
        if max_entries <= 0:
            raise ValueError("max_entries must be > 0")
        if not prefix:
            raise ValueError("prefix must not be empty")
        if not 1 <= digest_chars <= 64:
            raise ValueError("digest_chars must be 1 to 64")
        if not fits(prefix + "0" * digest_chars):
            raise ValueError("a hash id must fit the limit itself")
        self.prefix = prefix
        self._fits = fits
        self._digest_chars = digest_chars
        self._max_entries = max_entries
        self._payloads: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def to_id(self, payload: str) -> str:
        """The id to send for `payload` (non-empty)."""
        if not payload:
            raise ValueError("payload must not be empty")
        if self._fits(payload) and not payload.startswith(self.prefix):
            return payload
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        short_id = self.prefix + digest[: self._digest_chars]
        with self._lock:
            self._payloads[short_id] = payload
            self._payloads.move_to_end(short_id)
            while len(self._payloads) > self._max_entries:
                self._payloads.popitem(last=False)
        return short_id

    def to_payload(self, short_id: str) -> str | None:
        """The payload an id stands for; None for a hash id not known here."""
        if not short_id.startswith(self.prefix):
            return short_id
        with self._lock:
            return self._payloads.get(short_id)


# --------------------------------------------------------------------------- texts


def _fitting_prefix(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """The largest `i` with `measure(text[:i]) <= limit` (every character counts >= 1)."""
    low, high = 0, min(len(text), limit)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split `text` into parts that each measure at most `limit`.

    Cuts at the last paragraph break that fits, else the last line break, else the last
    space, else hard at the limit; the parts are stripped.

    Args:
        text: The text.
        limit: The longest part.
        measure: How a channel counts a text's length (`len`: characters; Telegram: UTF-16
            code units). It must grow with the text and count every character at least 1.

    Returns:
        The non-empty parts, in order (none for blank text).

    Raises:
        ValueError: For `limit` <= 0, or a single character that measures more than `limit`.
    """
    if limit <= 0:
        raise ValueError("limit must be > 0")
    rest = text.strip()
    parts: list[str] = []
    while measure(rest) > limit:
        fit = _fitting_prefix(rest, limit, measure)
        if fit <= 0:
            raise ValueError("a character measures more than the limit")
        cut = 0
        for separator in SEPARATORS:
            cut = rest.rfind(separator, 0, fit + len(separator))
            if cut > 0:
                break
        if cut <= 0:
            cut = fit
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def one_line(text: str) -> str:
    """`text` with every run of white space (line breaks too) made one space, stripped."""
    return " ".join(text.split())


def head(line: str, limit: int, *, at_word: bool) -> str:
    """The start of `line` that leaves room for "…" within `limit` characters.

    Args:
        line: A text on one line, longer than `limit`.
        limit: The characters the start and "…" may take.
        at_word: Cut after the last whole word, when that keeps at least half the room
            (WhatsApp); else cut hard (Telegram).
    """
    start = line[: limit - 1]
    if at_word and line[limit - 1 : limit] not in ("", " "):
        space = start.rfind(" ")
        if space >= limit // 2:
            start = start[:space]
    return start.rstrip()


def shorten(text: str, limit: int, *, at_word: bool) -> str:
    """`text` on one line, at most `limit` characters, ending in "…" when it was cut.

    Args:
        text: The text.
        limit: The most characters.
        at_word: Cut after a word when it can (see `head`).
    """
    line = one_line(text)
    if len(line) <= limit:
        return line
    return head(line, limit, at_word=at_word) + ELLIPSIS


def choices(
    buttons: Sequence[Any], title_of: Callable[[str], str] = one_line
) -> list[tuple[str, str]]:
    """(title, payload) of each Rasa button; a missing payload is the title and vice versa.

    Args:
        buttons: Rasa buttons (`title`, `payload`); entries that are not mappings, and buttons
            with neither, are left out.
        title_of: How a title is shown (`one_line`, or shortened as well); also applied to a
            payload that stands in for a missing title.
    """
    result = []
    for button in buttons:
        if not isinstance(button, Mapping):
            continue
        title = title_of(str(button.get("title") or ""))
        payload = str(button.get("payload") or "").strip() or title
        if payload:
            result.append((title or title_of(payload), payload))
    return result


# --------------------------------------------------------------------------- input channels


def add_health_route(blueprint: Blueprint, uri: str = "/") -> None:
    """Add `GET uri` answering `{"status": "ok"}` to a channel's blueprint."""

    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    blueprint.add_route(health, uri, methods=["GET"])


# --------------------------------------------------------------------------- one channel each


async def conversation_channel(tracker_store: Any, sender_id: str) -> str | None:
    """The channel a conversation belongs to: that of its first user message.

    Args:
        tracker_store: Rasa's tracker store (`agent.tracker_store`).
        sender_id: The conversation id.

    Returns:
        The `input_channel` of the first user message of every session that names one; None
        when there is no conversation yet, or no user message with a channel in it.
    """
    tracker = await tracker_store.retrieve_full_tracker(sender_id)
    if tracker is None:
        return None
    for event in tracker.events:
        if isinstance(event, UserUttered) and event.input_channel:
            return str(event.input_channel)
    return None


class ConversationGuard:
    """Keeps every conversation on the channel it started on.

    A sender id is a conversation id: on WhatsApp the citizen's phone number, on Telegram the
    chat id, on the web chat a session id, on REST whatever the integrator sends. Without a
    check a REST caller sending a WhatsApp number as `sender` would write into that citizen's
    conversation (their slots, the agent's transcript), and a WhatsApp citizen would carry on
    a conversation someone else started over REST. A channel asks `other_channel` before it
    hands a message to Rasa and refuses the message when the conversation is another
    channel's (the REST channel answers 409, the others drop it with a warning).

    The owner of a conversation never changes (it is its first user message), so owners are
    remembered in this process (the most recent `max_entries`): only a sender's first
    messages in a process read the tracker store. A conversation without an owner yet is read
    again each time; two channels starting the very same new conversation id at the same
    moment can both pass (the check runs before Rasa's per-conversation lock).

    Args:
        channel: The guarding channel's name (`input_channel` of its messages).
        max_entries: How many owners are remembered.
    """

    def __init__(self, channel: str, *, max_entries: int = 10_000) -> None:
        if not channel:
            raise ValueError("channel must not be empty")
        if max_entries <= 0:
            raise ValueError("max_entries must be > 0")
        self.channel = channel
        self._max_entries = max_entries
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._app: Any = None

    def attach(self, blueprint: Blueprint) -> None:
        """Remember the Sanic app when the server starts (for channels whose handlers get no
        request, e.g. socket.io events and background tasks)."""

        async def remember_app(app: Any, _: Any) -> None:
            self._app = app

        blueprint.listener("before_server_start")(remember_app)

    def tracker_store(self, app: Any = None) -> Any:
        """Rasa's tracker store of `app` (default: the attached one); None without an agent."""
        app = app if app is not None else self._app
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        return getattr(agent, "tracker_store", None)

    async def other_channel(self, sender_id: str, app: Any = None) -> str | None:
        """The channel the conversation `sender_id` belongs to, when it is not this one.

        Args:
            sender_id: The conversation id of the message.
            app: The Sanic app (from the request); default: the attached one.

        Returns:
            The other channel's name; None when the conversation is this channel's, has no
            owner yet, or there is no agent to ask.

        Raises:
            Exception: Whatever the tracker store raises (e.g. its database is down): a
                message must not pass unchecked.
        """
        owner = self._owners.get(sender_id)
        if owner is None:
            store = self.tracker_store(app)
            if store is None:
                return None
            owner = await conversation_channel(store, sender_id)
            if owner is None:
                return None
            self._owners[sender_id] = owner
            while len(self._owners) > self._max_entries:
                self._owners.popitem(last=False)
        else:
            self._owners.move_to_end(sender_id)
        return None if owner == self.channel else owner

    def guarded(self, on_new_message: OnNewMessage, log: logging.Logger) -> OnNewMessage:
        """`on_new_message` that drops (with a warning in `log`) the messages of a
        conversation another channel owns; for channels that hand messages to Rasa in
        background tasks (WhatsApp, Telegram), where there is no reply to refuse with."""

        async def handle(message: UserMessage) -> Any:
            other = await self.other_channel(message.sender_id)
            if other is not None:
                log.warning(
                    "%s: message from %s dropped: the conversation belongs to the %s channel",
                    self.channel,
                    mask_id(message.sender_id),
                    other,
                )
                return None
            return await on_new_message(message)

        return handle
