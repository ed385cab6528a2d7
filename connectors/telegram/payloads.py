"""Telegram's webhook updates as `TelegramMessage`s (pure parsing, no I/O)."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from connectors.common import (
    as_dict,
    as_list,
    cap_metadata,
    cap_text,
    str_or_none,
)
from connectors.telegram.render import CALLBACK_DATA, CallbackData

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    pass


logger = logging.getLogger("connectors.telegram")


#: The channel name: URL prefix, `input_channel` of the messages, `channel` in the database.
CHANNEL_NAME = "telegram"


#: Telegram's ids (update, chat, user, message) fit in a signed 64-bit integer.
ID_RANGE = range(-(2**63), 2**63)


#: How much of an update type name from a payload is logged.
KIND_LIMIT = 40


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


_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")


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
