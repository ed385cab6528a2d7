"""Texts for logs and chats: masking, failure traces, splitting, shortening, choices, short ids."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import traceback
from collections import OrderedDict
from typing import (
    Any,
    Callable,
    Mapping,
    Protocol,
    Sequence,
    TypeVar,
)

#: What ends a shortened text.
ELLIPSIS = "…"


#: Where a long text is cut, best first: a paragraph break, a line break, a space.
SEPARATORS = ("\n\n", "\n", " ")


def mask_id(value: Any) -> str:
    """A phone number, chat or user id for logs: only its last four characters ("***7890").

    None and "" give "***". (`helpdesk.security.masking.mask_digits` is for replies: it keeps
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


T = TypeVar("T")


class PayloadStore(Protocol):
    """Where `ShortIds` keeps long payloads for every process (the helpdesk database)."""

    def save(self, short_id: str, payload: str) -> Any: ...

    def get(self, short_id: str) -> str | None: ...


class ShortIds:
    """Maps button payloads to ids a channel can carry, and back (thread-safe).

    A payload that `fits` is its own id, so a tap comes back as exactly the payload the
    assistant offered ("/affirm", `/menu_select{"number":"7"}`). A longer one (e.g. an FAQ
    question), or one that starts with `prefix`, gets `prefix` and the first `digest_chars` hex
    digits of its SHA-256 as its id. The id is remembered here (the most recent `max_entries`)
    and, once a `PayloadStore` is attached, in the store every process reads (the helpdesk
    database), so a tap is understood by whichever process receives it, also after a restart.
    An id with the prefix that neither knows gives None, and the caller falls back to the
    tapped button's title. With a store the methods do database work: call them off the event
    loop (`asyncio.to_thread`).
    """

    def __init__(
        self,
        prefix: str,
        fits: Callable[[str], bool],
        digest_chars: int = 64,
        *,
        max_entries: int = 10_000,
        store: PayloadStore | None = None,
    ) -> None:
        """Create an empty mapping.

        Args:
            prefix: What starts every hash id ("wa-payload:", "tg:").
            fits: Whether a payload can be sent as it is (the channel's limit).
            digest_chars: How many hex digits of the SHA-256 a hash id has (1 to 64).
            max_entries: How many hash ids are remembered in this process.
            store: Where hash ids are kept for every process (see `attach`).

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
        self.store: PayloadStore | None = store
        self._unsaved: set[str] = set()
        #: How many store calls failed (the mapping then works in this process only).
        self.store_failures = 0

    def attach(self, store: PayloadStore) -> None:
        """Use `store` too (the first store attached stays; later calls change nothing)."""
        with self._lock:
            if self.store is None:
                self.store = store

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` (a parser or renderer using this mapping), run off the event
        loop when a store is attached (its lookups are database work)."""
        if self.store is None:
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _remember(self, short_id: str, payload: str) -> bool:
        """Keep the pair in memory; True when it was not there."""
        with self._lock:
            new = short_id not in self._payloads
            self._payloads[short_id] = payload
            self._payloads.move_to_end(short_id)
            while len(self._payloads) > self._max_entries:
                self._payloads.popitem(last=False)
        return new

    def to_id(self, payload: str) -> str:
        """The id to send for `payload` (non-empty); a hash id is stored before it is sent."""
        if not payload:
            raise ValueError("payload must not be empty")
        if self._fits(payload) and not payload.startswith(self.prefix):
            return payload
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        short_id = self.prefix + digest[: self._digest_chars]
        new = self._remember(short_id, payload)
        if self.store is not None and (new or short_id in self._unsaved):
            try:
                self.store.save(short_id, payload)
                self._unsaved.discard(short_id)
            except Exception:  # the database: a tap works in this process only, until a retry
                self.store_failures += 1
                self._unsaved.add(short_id)
        return short_id

    def to_payload(self, short_id: str) -> str | None:
        """The payload an id stands for; None for a hash id known neither here nor stored."""
        if not short_id.startswith(self.prefix):
            return short_id
        with self._lock:
            payload = self._payloads.get(short_id)
        if payload is not None or self.store is None:
            return payload
        try:
            payload = self.store.get(short_id)
        except Exception:
            self.store_failures += 1
            return None
        if payload is not None:
            self._remember(short_id, payload)
        return payload


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
