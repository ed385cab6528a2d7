"""Telegram channel: Rasa's Telegram channel made fit for the helpdesk.

`TelegramInput` receives Telegram's webhook at `/webhooks/telegram/webhook`; `TelegramOutput`
sends the answers through the Bot API (aiogram 2, as in Rasa). Register the channel in
`credentials.yml` under its module path (the short key `telegram:` would load Rasa's own
channel); the values come from the environment::

    connectors.telegram.TelegramInput:
      access_token: ${TELEGRAM_ACCESS_TOKEN}
      verify: ${TELEGRAM_BOT_NAME}
      webhook_url: ${TELEGRAM_WEBHOOK_URL}
      secret_token: ${TELEGRAM_SECRET_TOKEN}
      api_url: ${TELEGRAM_API_URL}

* `access_token`: the token from @BotFather (`123456789:AA...`).
* `verify`: the bot's username, without `@`.
* `webhook_url`: the public HTTPS URL of `/webhooks/telegram/webhook`.
* `secret_token` (optional, recommended): 1-256 characters of `A-Z a-z 0-9 _ -`. Telegram sends
  it in the `X-Telegram-Bot-Api-Secret-Token` header of every update; requests without it are
  refused (403). Without it anyone who knows the webhook URL can post updates.
* `api_url` (optional): the Bot API server, default `https://api.telegram.org` (a local Bot API
  server, or a fake one in tests).

Rasa expands `${VAR}` when it reads the file and refuses to start when a variable is not set
(an empty one is fine), so leave the optional lines out when their variables are not set
(`scripts/run.py` does). The three required values, when missing or empty, stop the server with
an error that names them.

How it differs from Rasa's channel (`rasa/core/channels/telegram.py`):

* Nothing contacts Telegram while the app is built, and `get_output_channel()` never does (Rasa's
  runs `asyncio.run(set_webhook(...))`, which needs the network and fails inside a running
  loop, e.g. for `/conversations/<id>/execute?output_channel=latest`). The webhook is
  registered in a background task once the server has started (a failure is logged, the server
  runs on), and again on `POST /webhooks/telegram/set_webhook` with
  `Authorization: Bearer <token>`, the token being Rasa's API token (`RASA_API_TOKEN`) or the
  secret token (401 otherwise; the secret also counts in `X-Telegram-Bot-Api-Secret-Token`).
  Before registering, `getMe` checks that the token belongs to the bot named in `verify`
  (registering would otherwise take the webhook of another bot).
* No `getMe` per update: the secret token authenticates Telegram's requests.
* Updates go through the shared inbox (`connectors.inbox`), as WhatsApp's messages do: each is
  claimed once in the helpdesk database (`inbound_message`, key `<bot id>:<update_id>`) and
  answered 200 at once, then handled in the background in order per chat. A re-delivered
  update is answered once, also after a restart; one left unfinished by a crash is handled again
  at the next start, or when Telegram delivers it again after `reclaim_after`.
* Button taps (`callback_query`) give the button's payload and are answered
  (`answerCallbackQuery`), so the spinner on the citizen's button stops.
* Photos, documents, videos, audio and voice notes give their `file_id` as the text (the ticket
  form's attachment step takes it) and `metadata["media"]`; locations, stickers, contacts and
  the like are ignored (logged by type). `/start` becomes `/greet`, `/help` becomes `/menu`.
* Buttons: up to three short ones in one row, otherwise one per row; `button_type` ("inline":
  one row, "vertical": one per row, "reply": a reply keyboard) is honoured when a response gives
  it. Payloads longer than Telegram's 64-byte `callback_data` are sent as a hash id.
* A text is one message (Rasa sends every paragraph separately) unless it is longer than
  Telegram's 4096 characters; then it is split at paragraph, line or word boundaries.
* Sending is retried on flood control and network errors; a message that cannot be sent is
  logged (type of error, chat id masked, never the content) and the conversation goes on.
* Hostile input: a body over `BODY_LIMIT` is refused unread (413); one that is not a JSON
  object, or nests deeper than Telegram's updates do, gets 400. An update with ids that are
  not Telegram's (not whole numbers of at most 64 bits) is acknowledged (200) and ignored.
  Texts are cleaned (no NUL, no lone surrogates) and cut at `connectors.common
  .MESSAGE_TEXT_LIMIT` characters, and every string of the metadata is capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Awaitable, Mapping, Sequence

import aiohttp
from aiogram.bot.api import TelegramAPIServer
from aiogram.utils import exceptions as tg_errors
from rasa.core.channels.telegram import TelegramInput as RasaTelegramInput
from rasa.core.channels.telegram import TelegramOutput as RasaTelegramOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import (
    OnNewMessage,
    ShortIds,
    add_health_route,
    as_dict,
    as_list,
    base_url,
    cap_metadata,
    cap_text,
    check_retry_settings,
    choices,
    clean_credential,
    json_object,
    mask_id,
    missing_credentials,
    missing_message,
    read_body,
    read_credentials,
    str_or_none,
)
from connectors.common import shorten as _shorten
from connectors.common import split_text as _split_text
from connectors.inbox import Inbound, Inbox, InboxPolicy

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.storage.repositories import InboundMessageRepository

logger = logging.getLogger(__name__)

#: The channel name: URL prefix, `input_channel` of the messages, `channel` in the database.
CHANNEL_NAME = "telegram"
DEFAULT_API_URL = "https://api.telegram.org"

#: Bot API limits: message text in UTF-16 code units, callback data in UTF-8 bytes.
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
#: Up to this many buttons whose titles are all at most `ROW_TITLE_LIMIT` characters share a row.
ROW_MAX_BUTTONS = 3
ROW_TITLE_LIMIT = 16
#: Longer button titles are shortened (Telegram shows only the start of a long one anyway).
TITLE_LIMIT = 128

SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
#: The largest update body read (bytes); larger ones get 413 unread. An update is one message
#: of at most 4096 characters (with the message it replies to, entities and a quote: tens of
#: KB at most), so this refuses only what Telegram never sends.
BODY_LIMIT = 256 * 1024
#: Telegram's ids (update, chat, user, message) fit in a signed 64-bit integer.
ID_RANGE = range(-(2**63), 2**63)
#: How much of an update type name from a payload is logged.
KIND_LIMIT = 40
#: The update types the webhook asks Telegram for.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
#: A re-delivered update whose handling started longer ago than this is handled again.
RECLAIM_AFTER = timedelta(minutes=1)
#: Flood control asking to wait longer than this (seconds) is not waited for.
MAX_RETRY_AFTER = 10.0

#: Channel texts (Indonesian, like everything the citizen reads).
CHOICES_PROMPT = "Silakan pilih:"

#: Message types that carry a file the citizen sends (the `file_id` becomes the text).
MEDIA_TYPES = ("photo", "document", "video", "audio", "voice")
#: Content types recognised for logs, in the order they are looked for (an animation also
#: carries a `document`, a venue a `location`).
CONTENT_TYPES = (
    "text",
    "animation",
    *MEDIA_TYPES,
    "video_note",
    "sticker",
    "venue",
    "location",
    "contact",
    "poll",
    "dice",
    "game",
)
#: Bot commands that stand for an intent of the assistant.
COMMAND_TEXTS = {"start": "/greet", "help": "/menu"}

#: Credential keys in credentials.yml and the environment variables that fill them.
REQUIRED_CREDENTIALS = {
    "access_token": "TELEGRAM_ACCESS_TOKEN",
    "verify": "TELEGRAM_BOT_NAME",
    "webhook_url": "TELEGRAM_WEBHOOK_URL",
}
OPTIONAL_CREDENTIALS = {"secret_token": "TELEGRAM_SECRET_TOKEN", "api_url": "TELEGRAM_API_URL"}

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")


class TelegramConfigError(RasaException):
    """The Telegram channel is missing credentials or has invalid ones."""


# --------------------------------------------------------------------------- helpers


_missing_message = functools.partial(missing_message, "Telegram", "connectors/telegram.py")
#: A JSON value as a non-empty string; None for a dict or list too (ids, names, captions).
_str_or_none = functools.partial(str_or_none, scalars_only=True)


def _int_or_none(value: Any) -> int | None:
    """A Telegram id or count: a whole number within 64 bits (also given as a string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and 0 < len(value) <= 21 and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, int) and value in ID_RANGE:
        return value
    return None


def verify_secret_token(secret_token: str, header: str | None) -> bool:
    """Check the `X-Telegram-Bot-Api-Secret-Token` header of a webhook request.

    Args:
        secret_token: The secret given to Telegram when the webhook was registered.
        header: The header value received (None when absent).

    Returns:
        True when the header is exactly the secret (compared in constant time).
    """
    if not secret_token or not header:
        return False
    return hmac.compare_digest(secret_token.encode("utf-8"), header.encode("utf-8"))


def fits_callback_data(payload: str) -> bool:
    """Whether `payload` can be callback data as it is (at most 64 UTF-8 bytes)."""
    return len(payload.encode("utf-8")) <= CALLBACK_DATA_LIMIT


class CallbackData(ShortIds):
    """Maps button payloads to Telegram `callback_data` (at most 64 bytes) and back.

    A payload that fits is its own callback data, so a tap comes back as exactly the payload
    the assistant offered (`/menu_select{"number":"7"}`). A longer one (e.g. an FAQ question)
    gets "tg:" and 40 hex digits of its SHA-256, remembered in this process; a tap on such an
    id this process does not know gives None, and the parser falls back to the tapped
    button's title (see `ShortIds`).
    """

    PREFIX = "tg:"

    def __init__(self, max_entries: int = 10_000) -> None:
        super().__init__(self.PREFIX, fits_callback_data, digest_chars=40, max_entries=max_entries)

    def to_data(self, payload: str) -> str:
        """The callback data to send for `payload` (non-empty): `to_id`."""
        return self.to_id(payload)


#: The mapping shared by this process's output channels and webhook parser.
CALLBACK_DATA = CallbackData()


# --------------------------------------------------------------------------- inbound parsing


@dataclass(frozen=True)
class TelegramMessage:
    """A citizen's message, ready to be handed to Rasa.

    Attributes:
        update_id: Telegram's update id (what re-deliveries share).
        chat_id: The chat to answer in (the conversation key, Rasa's sender id).
        kind: What it was: "message:text", "edited_message:text", "message:photo",
            "callback_query", ...
        text: What Rasa gets as the user's text: the text, the tapped button's payload, or the
            file id of an attachment.
        metadata: The message metadata for Rasa: name, channel, chat_id, user_id, username,
            update_id, message_id (+ edited, media).
    """

    update_id: int
    chat_id: str
    kind: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedUpdate:
    """What one webhook update holds.

    Attributes:
        update_id: Telegram's update id (None for a malformed update).
        kind: The update's kind for logs ("message:text", "message:location", "my_chat_member").
        message: The message to hand to Rasa; None when the update is ignored.
        callback_query_id: The id of a button tap to answer (also for an ignored tap).
    """

    update_id: int | None
    kind: str
    message: TelegramMessage | None = None
    callback_query_id: str | None = None


def content_type(message: Mapping[str, Any]) -> str:
    """A Telegram message's content type: "text", "photo", "location", ... or "other"."""
    for kind in CONTENT_TYPES:
        if message.get(kind) not in (None, "", []):
            return kind
    return "other"


def sender_name(user: Mapping[str, Any]) -> str | None:
    """The sender's first and last name, as Telegram gives them; None when there is none."""
    parts = [_str_or_none(user.get(key)) for key in ("first_name", "last_name")]
    name = " ".join(" ".join(p.split()) for p in parts if p and p.strip())
    return name or None


def normalize_command(text: str, bot_name: str | None = None) -> str | None:
    """The text Rasa gets for a typed bot command; other text unchanged.

    `/start` (with or without a deep-link parameter) becomes `/greet`, `/help` becomes `/menu`;
    `/cmd@ThisBot` loses its `@ThisBot`. Rasa's own message syntax (`/intent{...}`) is left
    alone.

    Args:
        text: The stripped message text.
        bot_name: This bot's username.

    Returns:
        The text for Rasa, or None for a command addressed to another bot (in a group).
    """
    match = _COMMAND.match(text)
    if not match:
        return text
    command, target = match.group(1), match.group(2)
    if target and bot_name and target.lower() != bot_name.lower():
        return None
    mapped = COMMAND_TEXTS.get(command.lower())
    if mapped:
        return mapped
    rest = text[match.end() :].strip()
    return f"/{command} {rest}" if rest else f"/{command}"


def media_info(kind: str, message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The file a media message carries: the largest photo size, or the document/video/... .

    Returns:
        {"type", "id", "file_unique_id", "mime_type", "filename", "file_size", "caption"}, or
        None when no file id is given.
    """
    if kind == "photo":
        sizes = [s for s in as_list(message.get("photo")) if isinstance(s, dict)]
        if not sizes:
            return None
        media = max(
            sizes,
            key=lambda s: (
                (_int_or_none(s.get("width")) or 0) * (_int_or_none(s.get("height")) or 0),
                _int_or_none(s.get("file_size")) or 0,
            ),
        )
        mime_type: str | None = "image/jpeg"  # Telegram re-encodes photos as JPEG
    else:
        media = as_dict(message.get(kind))
        mime_type = _str_or_none(media.get("mime_type"))
    file_id = _str_or_none(media.get("file_id"))
    if not file_id:
        return None
    return {
        "type": kind,
        "id": file_id,
        "file_unique_id": _str_or_none(media.get("file_unique_id")),
        "mime_type": mime_type,
        "filename": _str_or_none(media.get("file_name")),
        "file_size": _int_or_none(media.get("file_size")),
        "caption": _str_or_none(message.get("caption")),
    }


def _metadata(
    update_id: int, chat_id: int, user: Mapping[str, Any], message_id: Any
) -> dict[str, Any]:
    user_id = _int_or_none(user.get("id"))
    return {
        "name": sender_name(user),
        "channel": CHANNEL_NAME,
        "chat_id": str(chat_id),
        "user_id": None if user_id is None else str(user_id),
        "username": _str_or_none(user.get("username")),
        "update_id": update_id,
        "message_id": _int_or_none(message_id),
    }


def _parse_message(
    update_id: int, field_name: str, message: Mapping[str, Any], bot_name: str | None
) -> ParsedUpdate:
    chat_id = _int_or_none(as_dict(message.get("chat")).get("id"))
    content = content_type(message)
    kind = f"{field_name}:{content}"
    if chat_id is None:
        return ParsedUpdate(update_id, f"{field_name}:malformed")
    metadata = _metadata(
        update_id, chat_id, as_dict(message.get("from")), message.get("message_id")
    )
    if field_name == "edited_message":
        metadata["edited"] = True
    if content == "text":
        text = normalize_command(str(message["text"]).strip(), bot_name)
        if not text:
            return ParsedUpdate(update_id, kind)
    elif content in MEDIA_TYPES:
        media = media_info(content, message)
        if media is None:
            return ParsedUpdate(update_id, kind)
        text = media["id"]
        metadata["media"] = media
    else:
        return ParsedUpdate(update_id, kind)
    text = cap_text(text)
    if not text.strip():
        return ParsedUpdate(update_id, kind)
    return ParsedUpdate(
        update_id,
        kind,
        TelegramMessage(update_id, str(chat_id), kind, text, cap_metadata(metadata)),
    )


def _button_title(message: Mapping[str, Any], data: str) -> str | None:
    """The title of the button with `data` in the message's inline keyboard."""
    keyboard = as_dict(message.get("reply_markup")).get("inline_keyboard")
    for row in as_list(keyboard):
        for button in as_list(row):
            if isinstance(button, dict) and button.get("callback_data") == data:
                return _str_or_none(button.get("text"))
    return None


def _parse_callback(
    update_id: int, query: Mapping[str, Any], callback_data: CallbackData
) -> ParsedUpdate:
    query_id = _str_or_none(query.get("id"))
    message = as_dict(query.get("message"))
    user = as_dict(query.get("from"))
    chat_id = _int_or_none(as_dict(message.get("chat")).get("id", user.get("id")))
    data = _str_or_none(query.get("data"))
    if not data or chat_id is None:
        kind = "callback_query:game" if query.get("game_short_name") else "callback_query:empty"
        return ParsedUpdate(update_id, kind, callback_query_id=query_id)
    payload = callback_data.to_payload(data)
    if payload is None:
        logger.warning("telegram: callback data of a long payload unknown here; using the title")
        payload = _button_title(message, data)
    payload = cap_text(payload.strip()) if payload else None
    if not payload:
        return ParsedUpdate(update_id, "callback_query:unknown", callback_query_id=query_id)
    metadata = cap_metadata(_metadata(update_id, chat_id, user, message.get("message_id")))
    return ParsedUpdate(
        update_id,
        "callback_query",
        TelegramMessage(update_id, str(chat_id), "callback_query", payload, metadata),
        callback_query_id=query_id,
    )


def parse_update(
    update: Mapping[str, Any],
    *,
    bot_name: str | None = None,
    callback_data: CallbackData = CALLBACK_DATA,
) -> ParsedUpdate:
    """One webhook update (Telegram's `Update` object) as a `ParsedUpdate`.

    A text (or edited text) gives the text (bot commands mapped, see `normalize_command`); a
    button tap gives the payload the assistant offered; a photo (largest size), document,
    video, audio or voice note gives its `file_id` as the text and `metadata["media"]` (a
    caption alone is never the text). Other messages (location, sticker, contact, ...) and
    other update types (channel posts, chat member changes, ...) are ignored.

    Args:
        update: The parsed JSON body.
        bot_name: This bot's username (commands addressed to other bots are ignored).
        callback_data: The mapping of long button payloads.

    Returns:
        The parsed update; its `message` is None when there is nothing to hand to Rasa.
    """
    update_id = _int_or_none(update.get("update_id"))
    if update_id is None:
        return ParsedUpdate(None, "malformed")
    if "callback_query" in update:
        return _parse_callback(update_id, as_dict(update["callback_query"]), callback_data)
    for field_name in ("message", "edited_message"):
        if field_name in update:
            return _parse_message(update_id, field_name, as_dict(update[field_name]), bot_name)
    kind = next((str(key)[:KIND_LIMIT] for key in update if key != "update_id"), "empty")
    return ParsedUpdate(update_id, kind)


# --------------------------------------------------------------------------- outbound rendering


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


# --------------------------------------------------------------------------- output channel


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class TelegramOutput(RasaTelegramOutput):
    """Sends messages through the Telegram Bot API (an aiogram `Bot`, as Rasa's).

    Creating it contacts nobody. Flood control (when the wait is at most 10 s), network errors
    and timeouts are retried; a message that could not be sent is logged (error type, chat id
    masked, never the content) and, unless `raise_on_failure` is set, the conversation goes on.
    """

    def __init__(
        self,
        access_token: str,
        api_url: str | None = DEFAULT_API_URL,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        raise_on_failure: bool = False,
        callback_data: CallbackData = CALLBACK_DATA,
    ) -> None:
        """Create the output channel.

        Args:
            access_token: The bot token (`<bot id>:<secret>`).
            api_url: The Bot API server base URL.
            timeout: Seconds before one HTTP attempt is given up.
            attempts: Attempts per request in total (>= 1).
            backoff: The first pause between attempts in seconds; it doubles each time.
            raise_on_failure: Raise the Bot API error when a message cannot be sent instead of
                logging it and going on.
            callback_data: The mapping of long button payloads.

        Raises:
            TelegramConfigError: For a missing or malformed token.
            ValueError: For a non-positive timeout or attempts, or a negative backoff.
        """
        token = clean_credential(access_token)
        if not token:
            raise TelegramConfigError(_missing_message(["access_token (TELEGRAM_ACCESS_TOKEN)"]))
        check_retry_settings(timeout, attempts, backoff)
        self.api_url = base_url(api_url, DEFAULT_API_URL)
        try:
            # aiogram's BaseBot: validates the token, no I/O (Rasa's __init__ takes no server).
            super(RasaTelegramOutput, self).__init__(
                token, server=TelegramAPIServer.from_base(self.api_url), timeout=timeout
            )
        except tg_errors.ValidationError:
            raise TelegramConfigError(
                "The Telegram channel cannot start: access_token (TELEGRAM_ACCESS_TOKEN) is not "
                "a bot token ('<bot id>:<secret>' from @BotFather)."
            ) from None
        self._secret = token
        self.attempts = attempts
        self.backoff = backoff
        self.raise_on_failure = raise_on_failure
        self.callback_data = callback_data
        self._session_loop: asyncio.AbstractEventLoop | None = None

    # ----------------------------------------------------------------- HTTP

    @property
    def session(self) -> aiohttp.ClientSession:
        """The HTTP session, made in (and for) the running event loop on first use."""
        loop = _running_loop()
        stale = loop is not None and self._session_loop is not loop
        if self._session is None or self._session.closed or stale:
            self._session = self.get_new_session()
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (if this loop made one)."""
        session, self._session = self._session, None
        if session is not None and not session.closed and self._session_loop is _running_loop():
            await session.close()

    def redact(self, text: str) -> str:
        """`text` with the bot token masked (aiogram's errors may hold request URLs)."""
        return text.replace(self._secret, "<token>")

    async def request(
        self,
        method: str,
        data: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A Bot API request, retried on flood control, network errors and timeouts."""
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts or bool(files)  # an upload stream is read once
            try:
                return await super().request(method, data, files, **kwargs)
            except tg_errors.RetryAfter as exc:
                if last or exc.timeout > MAX_RETRY_AFTER:
                    raise
                pause, reason = float(exc.timeout), "flood control"
            except (tg_errors.NetworkError, tg_errors.RestartingTelegram) as exc:
                if last:
                    raise
                pause, reason = self.backoff * 2 ** (attempt - 1), type(exc).__name__
            except asyncio.TimeoutError:
                if last:
                    raise tg_errors.NetworkError(f"{method} timed out") from None
                pause, reason = self.backoff * 2 ** (attempt - 1), "timeout"
            logger.warning(
                "telegram: %s failed (%s; attempt %d of %d); retrying",
                method,
                reason,
                attempt,
                self.attempts,
            )
            await asyncio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    async def set_helpdesk_webhook(
        self, url: str, secret_token: str | None = None, *, drop_pending_updates: bool = False
    ) -> bool:
        """Register the webhook (`setWebhook` with the secret token aiogram 2 does not know).

        Returns:
            True when Telegram accepted it.

        Raises:
            TelegramAPIError: When Telegram refused it or could not be reached.
        """
        payload: dict[str, Any] = {"url": url, "allowed_updates": json.dumps(ALLOWED_UPDATES)}
        if secret_token:
            payload["secret_token"] = secret_token
        if drop_pending_updates:
            payload["drop_pending_updates"] = "true"
        return bool(await self.request("setWebhook", payload))

    # ----------------------------------------------------------------- sending

    async def _deliver(self, what: str, recipient_id: Any, call: Awaitable[Any]) -> bool:
        """Await one send call; log (and unless asked to, swallow) a Bot API error."""
        try:
            await call
            return True
        except tg_errors.TelegramAPIError as exc:
            logger.error(
                "telegram: sending a %s to chat %s failed (%s: %s)",
                what,
                mask_id(recipient_id),
                type(exc).__name__,
                self.redact(str(exc)),
            )
            if self.raise_on_failure:
                raise
            return False

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Send a text: one message, split beyond 4096 characters."""
        for part in split_text(text or ""):
            if not await self._deliver("text", recipient_id, self.send_message(recipient_id, part)):
                return

    async def send_text_with_buttons(
        self,
        recipient_id: str,
        text: str,
        buttons: list[dict[str, Any]],
        button_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Send a text with buttons as a keyboard (see `keyboard_markup` for `button_type`)."""
        messages = button_messages(
            text or "", buttons, button_type, callback_data=self.callback_data
        )
        for part, markup in messages:
            call = self.send_message(recipient_id, part, reply_markup=markup)
            if not await self._deliver("text with buttons", recipient_id, call):
                return

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """Send the image at a public URL."""
        await self._deliver("photo", recipient_id, self.send_photo(recipient_id, image))

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """Send a custom payload the way Rasa's channel does (`{"photo": ...}`, ...)."""
        await self._deliver(
            "custom message", recipient_id, super().send_custom_json(recipient_id, json_message)
        )


# --------------------------------------------------------------------------- input channel


class TelegramInput(RasaTelegramInput):
    """Receives Telegram's webhook (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> "TelegramInput":
        """The channel from its credentials.yml block.

        Raises:
            TelegramConfigError: Naming every required credential that is missing or empty, or
                for an invalid token or secret token.
        """
        values, missing = read_credentials(
            credentials, REQUIRED_CREDENTIALS, OPTIONAL_CREDENTIALS, env_name_keys=False
        )
        if missing:
            raise TelegramConfigError(_missing_message(missing))
        return cls(
            values["access_token"],
            values["verify"],
            values["webhook_url"],
            secret_token=values["secret_token"] or None,
            api_url=values["api_url"] or DEFAULT_API_URL,
        )

    def __init__(
        self,
        access_token: str,
        verify: str,
        webhook_url: str,
        *,
        secret_token: str | None = None,
        api_url: str = DEFAULT_API_URL,
        output: TelegramOutput | None = None,
        repository: "InboundMessageRepository" | None = None,
        reclaim_after: timedelta = RECLAIM_AFTER,
        register_at_start: bool = True,
        api_token: str | None = None,
        shutdown_timeout: float = 10.0,
    ) -> None:
        """Create the input channel (contacts nobody).

        Args:
            access_token: The bot token.
            verify: The bot's username (with or without "@").
            webhook_url: The public URL of this channel's `/webhook` route.
            secret_token: The secret Telegram must send in `X-Telegram-Bot-Api-Secret-Token`.
            api_url: The Bot API server base URL.
            output: The output channel of the answers (default: one from these credentials).
            repository: Where update ids are claimed (default: the helpdesk services' one).
            reclaim_after: How long ago an unfinished update must have been claimed to be
                handled again (at start, or when Telegram delivers it again).
            register_at_start: Register the webhook once the server has started.
            api_token: The token that may ask `POST /set_webhook` besides the secret token
                (default: Rasa's API token, `RASA_API_TOKEN` in the helpdesk settings).
            shutdown_timeout: Seconds the server waits, when stopping, for updates in work.

        Raises:
            TelegramConfigError: For a missing credential, an invalid token or secret token.
        """
        values = {"access_token": access_token, "verify": verify, "webhook_url": webhook_url}
        missing = missing_credentials(values, REQUIRED_CREDENTIALS)
        if missing:
            raise TelegramConfigError(_missing_message(missing))
        url = clean_credential(webhook_url)
        if not url.lower().startswith(("https://", "http://")):
            raise TelegramConfigError(
                "The Telegram channel cannot start: webhook_url (TELEGRAM_WEBHOOK_URL) must be "
                "the public https:// URL of /webhooks/telegram/webhook."
            )
        secret = clean_credential(secret_token)
        if secret and not _SECRET_TOKEN.fullmatch(secret):
            raise TelegramConfigError(
                "The Telegram channel cannot start: secret_token (TELEGRAM_SECRET_TOKEN) must be "
                "1-256 characters of A-Z, a-z, 0-9, _ and -."
            )
        super().__init__(
            clean_credential(access_token),
            clean_credential(verify).lstrip("@"),
            url,
            debug_mode=False,
        )
        self.bot_name: str = self.verify
        self.secret_token = secret or None
        self.api_url = base_url(api_url, DEFAULT_API_URL)
        self.output = output or TelegramOutput(self.access_token, self.api_url)
        self.reclaim_after = reclaim_after
        self.register_at_start = register_at_start
        self._api_token = api_token
        self.inbox = Inbox(
            CHANNEL_NAME,
            self.output,
            log=logger,
            repository=repository,
            policy=InboxPolicy(recovery_delay=reclaim_after, shutdown_timeout=shutdown_timeout),
            noun="update",
            mask=mask_id,
        )
        self._startup_task: asyncio.Task | None = None
        if self.secret_token is None:
            logger.warning(
                "telegram: no secret_token (TELEGRAM_SECRET_TOKEN): anyone who knows the "
                "webhook URL can post updates"
            )

    @property
    def repository(self) -> "InboundMessageRepository":
        """The inbound message store (the helpdesk services' one unless injected)."""
        return self.inbox.repository

    def get_output_channel(self) -> TelegramOutput:
        """The output channel; never contacts Telegram (safe inside a running loop)."""
        return self.output

    def admin_tokens(self) -> list[str]:
        """The tokens that may ask for the webhook's registration: Rasa's API token and the
        secret token (the ones that are set)."""
        api_token = self._api_token
        if api_token is None:
            from helpdesk.settings import get_settings

            api_token = get_settings().rasa_api_token
        return [token for token in (clean_credential(api_token), self.secret_token) if token]

    def may_register(self, request: Request) -> bool:
        """Whether `request` carries an admin token: `Authorization: Bearer <token>`, or the
        secret token in its Telegram header (compared in constant time)."""
        scheme, _, bearer = (request.headers.get("Authorization") or "").strip().partition(" ")
        pairs = []
        if scheme.lower() == "bearer" and bearer.strip():
            pairs = [(token, bearer.strip()) for token in self.admin_tokens()]
        secret_header = request.headers.get(SECRET_TOKEN_HEADER)
        if secret_header and self.secret_token:
            pairs.append((self.secret_token, secret_header))
        return any(
            hmac.compare_digest(token.encode("utf-8"), offered.encode("utf-8"))
            for token, offered in pairs
        )

    def dedup_key(self, update_id: int) -> str:
        """The `inbound_message` id of an update: the bot id and the update id."""
        return f"{self.output.id}:{update_id}"

    # ----------------------------------------------------------------- webhook registration

    async def register_webhook(self) -> tuple[bool, str]:
        """Check the token's bot against `verify`, then register the webhook.

        Returns:
            (True, "") when Telegram accepted the webhook, else (False, the reason).
        """
        try:
            me = await self.output.get_me()
            username = me.username or ""
            if username.lower() != self.bot_name.lower():
                return False, (
                    f"the access token belongs to @{username}, not @{self.bot_name} "
                    "(TELEGRAM_BOT_NAME); the webhook was left alone"
                )
            if not await self.output.set_helpdesk_webhook(self.webhook_url, self.secret_token):
                return False, "Telegram did not accept the webhook"
        except Exception as exc:  # network, Bot API or anything else: reported, not raised
            return False, f"{type(exc).__name__}: {self.output.redact(str(exc))}"
        return True, ""

    async def _register_at_start(self) -> None:
        ok, reason = await self.register_webhook()
        if ok:
            logger.info("telegram: webhook registered")
        else:
            logger.warning(
                "telegram: registering the webhook at start failed (%s); the server runs on. "
                "Retry with POST /webhooks/telegram/set_webhook (Authorization: Bearer "
                "<RASA_API_TOKEN>)",
                reason,
            )

    # ----------------------------------------------------------------- handling

    async def _answer_callback(self, callback_query_id: str) -> None:
        """Answer a button tap so the client's spinner stops (failures only logged)."""
        try:
            await self.output.answer_callback_query(callback_query_id)
        except Exception as exc:
            logger.warning(
                "telegram: answering a button tap failed (%s: %s)",
                type(exc).__name__,
                self.output.redact(str(exc)),
            )

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until the updates in work are handled (True: nothing is left in work)."""
        return await self.inbox.drain(timeout)

    async def recover_pending(self, on_new_message: OnNewMessage) -> int:
        """Handle again the updates claimed earlier and never finished (`Inbox.recover`)."""
        return await self.inbox.recover(on_new_message)

    def inbound(self, message: TelegramMessage) -> Inbound:
        """A parsed message for the shared inbox (keyed by bot and update id)."""
        return Inbound(
            key=self.dedup_key(message.update_id),
            sender=message.chat_id,
            kind=message.kind,
            text=message.text,
            metadata=message.metadata,
            label=str(message.update_id),
        )

    async def receive_update(
        self, payload: Mapping[str, Any], on_new_message: OnNewMessage
    ) -> tuple[int, str]:
        """Process one verified update: claim it and hand it to Rasa in the background.

        Returns:
            The HTTP status for Telegram (200: accepted, a duplicate or ignored; 503: the
            database could not record it, try again later) and a status word.
        """
        parsed = parse_update(
            payload, bot_name=self.bot_name, callback_data=self.output.callback_data
        )
        message = parsed.message
        if message is None:
            logger.info("telegram: ignored an update of type %s", parsed.kind)
            if parsed.callback_query_id:
                await self._answer_callback(parsed.callback_query_id)
            return 200, "ignored"
        accepted = await self.inbox.accept([self.inbound(message)], on_new_message)
        if accepted.claimed and parsed.callback_query_id:
            # Stops the spinner on the citizen's button while the answer is worked out.
            self.inbox.spawn(self._answer_callback(parsed.callback_query_id))
        return accepted.answer()

    # ----------------------------------------------------------------- web

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The routes: `/` (health), `/webhook` (updates) and `/set_webhook` (registration)."""
        telegram_webhook = Blueprint("telegram_webhook", __name__)

        @telegram_webhook.listener("after_server_start")
        async def register_in_background(app: Any, loop: Any) -> None:
            self.inbox.start(on_new_message)
            if self.register_at_start:
                self._startup_task = asyncio.get_running_loop().create_task(
                    self._register_at_start()
                )

        @telegram_webhook.listener("before_server_stop")
        async def stop(app: Any, loop: Any) -> None:
            task, self._startup_task = self._startup_task, None
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.inbox.stop()
            await self.output.close()

        add_health_route(telegram_webhook)

        @telegram_webhook.route("/set_webhook", methods=["POST"])
        async def set_webhook(request: Request) -> HTTPResponse:
            # Anyone could otherwise make the server call Telegram (and re-point the webhook).
            if not self.may_register(request):
                logger.warning("telegram: webhook registration refused: no valid token")
                return response.text(
                    "Unauthorized: send Authorization: Bearer <RASA_API_TOKEN>",
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            ok, reason = await self.register_webhook()
            if ok:
                logger.info("telegram: webhook registered")
                return response.text("Webhook setup successful")
            logger.warning("telegram: registering the webhook failed (%s)", reason)
            return response.text(f"Webhook setup failed: {reason}", status=502)

        @telegram_webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if self.secret_token is not None:
                header = request.headers.get(SECRET_TOKEN_HEADER)
                if not verify_secret_token(self.secret_token, header):
                    logger.warning(
                        "telegram: update refused: %s secret token",
                        "wrong" if header else "missing",
                    )
                    if request.stream is not None:  # read no more than a real update
                        request.stream.request_max_size = BODY_LIMIT
                    return response.json({"status": "forbidden"}, status=403)
            body = await read_body(request, BODY_LIMIT)
            if body is None:
                logger.warning("telegram: update refused: body over %d bytes", BODY_LIMIT)
                return response.json({"status": "payload too large"}, status=413)
            payload = json_object(body)
            if payload is None:
                logger.warning("telegram: update refused: malformed JSON (%d bytes)", len(body))
                return response.json({"status": "bad request"}, status=400)
            status, word = await self.receive_update(payload, on_new_message)
            return response.json({"status": word}, status=status)

        return telegram_webhook
