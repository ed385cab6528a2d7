"""How answers look on Telegram: texts and keyboards (pure functions).

Long button payloads travel as short `callback_data` ids (`CallbackData`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from connectors.common import (
    PayloadStore,
    ShortIds,
    choices,
)
from connectors.common import shorten as _shorten
from connectors.common import split_text as _split_text

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    pass


logger = logging.getLogger("connectors.telegram")


#: Bot API limits: message text in UTF-16 code units, callback data in UTF-8 bytes.
TEXT_LIMIT = 4096


CALLBACK_DATA_LIMIT = 64


#: Up to this many buttons whose titles are all at most `ROW_TITLE_LIMIT` characters share a row.
ROW_MAX_BUTTONS = 3


ROW_TITLE_LIMIT = 16


#: Longer button titles are shortened (Telegram shows only the start of a long one anyway).
TITLE_LIMIT = 128


#: Channel texts (Indonesian, like everything the citizen reads).
CHOICES_PROMPT = "Silakan pilih:"


def fits_callback_data(payload: str) -> bool:
    """Whether `payload` can be callback data as it is (at most 64 UTF-8 bytes)."""
    return len(payload.encode("utf-8")) <= CALLBACK_DATA_LIMIT


class CallbackData(ShortIds):
    """Maps button payloads to Telegram `callback_data` (at most 64 bytes) and back.

    A payload that fits is its own callback data, so a tap comes back as exactly the payload
    the assistant offered (`/menu_select{"number":"7"}`). A longer one (e.g. an FAQ question)
    gets "tg:" and 40 hex digits of its SHA-256, remembered in this process and, with a store,
    in the helpdesk database; a tap on such an id neither knows gives None, and the parser falls
    back to the tapped button's title (see `ShortIds`).
    """

    PREFIX = "tg:"

    def __init__(self, max_entries: int = 10_000, *, store: PayloadStore | None = None) -> None:
        super().__init__(
            self.PREFIX, fits_callback_data, digest_chars=40, max_entries=max_entries, store=store
        )

    def to_data(self, payload: str) -> str:
        """The callback data to send for `payload` (non-empty): `to_id`."""
        return self.to_id(payload)


#: The mapping shared by this process's output channels and webhook parser.
CALLBACK_DATA = CallbackData()


def text_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split `text` into messages of at most `limit` (> 1) UTF-16 code units (emoji count 2).

    See `common.split_text`.
    """
    if limit <= 1:
        raise ValueError("limit must be > 1")
    return _split_text(text, limit, measure=text_length)


def shorten(text: str, limit: int = TITLE_LIMIT) -> str:
    """`text` on one line, at most `limit` characters, ending in "…" when it was cut.

    The cut is hard, not after a word (see `common.shorten`).
    """
    return _shorten(text, limit, at_word=False)


def button_rows(titles: Sequence[str], button_type: str | None = None) -> list[list[int]]:
    """How buttons are laid out: the indexes of `titles` in each keyboard row.

    Args:
        titles: The button titles.
        button_type: "inline": all in one row (Rasa's meaning); "vertical": one per row;
            anything else: up to three buttons with titles of at most 16 characters in one
            row, otherwise one per row.
    """
    indexes = list(range(len(titles)))
    if not indexes:
        return []
    if button_type == "inline":
        return [indexes]
    if button_type == "vertical":
        return [[i] for i in indexes]
    fits = len(titles) <= ROW_MAX_BUTTONS and all(len(t) <= ROW_TITLE_LIMIT for t in titles)
    return [indexes] if fits else [[i] for i in indexes]


def keyboard_markup(
    buttons: Sequence[Mapping[str, Any]],
    button_type: str | None = None,
    *,
    callback_data: CallbackData = CALLBACK_DATA,
) -> dict[str, Any] | None:
    """The Bot API `reply_markup` for Rasa buttons.

    Args:
        buttons: Rasa buttons (`title`, `payload`).
        button_type: None (automatic layout, see `button_rows`), "inline", "vertical", or
            "reply" (a one-time reply keyboard: a tap sends the title as text).
        callback_data: The mapping of long payloads.

    Returns:
        An `InlineKeyboardMarkup` or `ReplyKeyboardMarkup` as a dict; None without buttons.
    """
    options = choices(buttons, title_of=shorten)
    if not options:
        return None
    titles = [title for title, _ in options]
    if button_type == "reply":
        return {
            "keyboard": [[{"text": titles[i]} for i in row] for row in button_rows(titles, None)],
            "resize_keyboard": True,
            "one_time_keyboard": True,
        }
    if button_type not in (None, "inline", "vertical"):
        logger.warning("telegram: unknown button_type %r; using the automatic layout", button_type)
        button_type = None
    return {
        "inline_keyboard": [
            [
                {"text": options[i][0], "callback_data": callback_data.to_id(options[i][1])}
                for i in row
            ]
            for row in button_rows(titles, button_type)
        ]
    }


def button_messages(
    text: str,
    buttons: Sequence[Mapping[str, Any]],
    button_type: str | None = None,
    *,
    callback_data: CallbackData = CALLBACK_DATA,
    prompt: str = CHOICES_PROMPT,
) -> list[tuple[str, dict[str, Any] | None]]:
    """The messages (text, reply_markup) that send a text with buttons.

    A long text is split; the keyboard goes with the last part. Without a text the keyboard
    goes under `prompt` (Telegram needs a text).
    """
    markup = keyboard_markup(buttons, button_type, callback_data=callback_data)
    parts = split_text(text or "")
    if markup is None:
        return [(part, None) for part in parts]
    if not parts:
        parts = [prompt]
    return [(part, None) for part in parts[:-1]] + [(parts[-1], markup)]
