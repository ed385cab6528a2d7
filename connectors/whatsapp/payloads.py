"""Meta's webhook deliveries as `WhatsAppMessage`s (pure parsing, no I/O)."""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import (
    Any,
    Mapping,
    Sequence,
)

from connectors.common import (
    as_dict,
    as_list,
    cap_metadata,
    cap_text,
    mask_id,
    str_or_none,
)
from connectors.inbox import Inbound
from connectors.whatsapp.render import PAYLOAD_IDS, PayloadIds
from helpdesk.broadcasts.consent import consent_intent

logger = logging.getLogger("connectors.whatsapp")


#: The channel name: URL prefix, `input_channel` of the messages, `channel` in the database.
CHANNEL_NAME = "whatsapp"


#: The longest message id and sender accepted (Meta's are about 60 and 15 characters); the
#: database keeps 255, and a longer one would be refused there, and retried by Meta, forever.
ID_LIMIT = 128


#: How much of a type name from a payload is logged.
KIND_LIMIT = 40


#: Message types a citizen sends that carry a media id.
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")


#: A phone number (or any sender id) for logs: "6281234567890" -> "***7890".
mask_phone = mask_id


#: A JSON value as a non-empty string; None for a dict or list (whose `str()` is no text, and
#: of a deeply nested one can exceed Python's recursion limit).
_str_or_none = functools.partial(str_or_none, scalars_only=True)


@dataclass(frozen=True)
class WhatsAppMessage:
    """A citizen's message, ready to be handed to Rasa.

    Attributes:
        message_id: Meta's message id (`wamid....`).
        sender: The sender's phone number in international form (the conversation key).
        type: The WhatsApp message type ("text", "interactive", "image", ...).
        text: What Rasa gets as the user's text: the text, the payload of the tapped button,
            or the media id of an attachment.
        metadata: The message metadata for Rasa: name, channel, phone, message_id (+ media).
    """

    message_id: str
    sender: str
    type: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """This message as JSON (stored while it is handled, for crash recovery)."""
        return json.dumps(
            {
                "message_id": self.message_id,
                "sender": self.sender,
                "type": self.type,
                "text": self.text,
                "metadata": self.metadata,
            },
            ensure_ascii=False,
        )

    def inbound(self) -> Inbound:
        """This message for the shared inbox (same JSON as `to_json`)."""
        return Inbound(self.message_id, self.sender, self.type, self.text, self.metadata)

    @classmethod
    def from_json(cls, data: str) -> "WhatsAppMessage":
        """The message `to_json` wrote.

        Raises:
            ValueError: When `data` is not such a message.
        """
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("not a stored WhatsApp message")
        try:
            return cls(
                message_id=str(raw["message_id"]),
                sender=str(raw["sender"]),
                type=str(raw["type"]),
                text=str(raw["text"]),
                metadata=dict(raw.get("metadata") or {}),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError("not a stored WhatsApp message") from exc


@dataclass(frozen=True)
class WebhookBatch:
    """What one webhook delivery holds.

    Attributes:
        messages: The citizens' messages to handle, in delivery order.
        statuses: How many status callbacks (sent, delivered, read, failed) it held.
        ignored: The kinds of the messages left out ("location", "other_phone_number", ...).
        status_updates: The readable status callbacks to this assistant's number.
    """

    messages: tuple[WhatsAppMessage, ...] = ()
    statuses: int = 0
    ignored: tuple[str, ...] = ()
    status_updates: tuple[StatusUpdate, ...] = ()


@dataclass(frozen=True)
class StatusUpdate:
    """One status callback of a message this assistant sent.

    Attributes:
        message_id: The message's id ("wamid....").
        status: "sent", "delivered", "read" or "failed".
        at: When it happened (Meta's timestamp), or None.
        callback_data: The `biz_opaque_callback_data` sent with the message, if any.
        error: Meta's first error ("<code>: <title>") of a failed message.
    """

    message_id: str
    status: str
    at: datetime | None = None
    callback_data: str | None = None
    error: str | None = None


def parse_status(raw: Any) -> StatusUpdate | None:
    """A status callback from `value.statuses[]`, or None when it is not readable."""
    raw = as_dict(raw)
    message_id, status = raw.get("id"), raw.get("status")
    if not isinstance(message_id, str) or not message_id or not isinstance(status, str):
        return None
    at = None
    try:
        at = datetime.fromtimestamp(int(str(raw.get("timestamp"))), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        at = None
    callback = raw.get("biz_opaque_callback_data")
    error = None
    errors = [e for e in as_list(raw.get("errors")) if isinstance(e, dict)]
    if errors:
        title = str(errors[0].get("title") or errors[0].get("message") or "")[:120]
        error = f"{errors[0].get('code', '')}: {title}".strip()
    return StatusUpdate(
        message_id=message_id[:128],
        status=status.lower()[:16],
        at=at,
        callback_data=callback[:64] if isinstance(callback, str) and callback else None,
        error=error,
    )


def _profile_name(contacts: Sequence[Any], sender: str) -> str | None:
    """The sender's WhatsApp profile name from `value.contacts[]`."""
    candidates = [contact for contact in contacts if isinstance(contact, dict)]
    for contact in candidates:
        if str(contact.get("wa_id", "")) == sender:
            return _str_or_none(as_dict(contact.get("profile")).get("name"))
    if len(candidates) == 1:
        return _str_or_none(as_dict(candidates[0].get("profile")).get("name"))
    return None


def message_kind(message: Mapping[str, Any]) -> str:
    """A message's type for logs: "text", "image", "interactive:button_reply", ...

    Shortened to `KIND_LIMIT` characters: the type comes from the payload.
    """
    kind = str(message.get("type") or "unknown")[:KIND_LIMIT]
    if kind == "interactive":
        reply = str(as_dict(message.get("interactive")).get("type") or "unknown")
        return f"{kind}:{reply[:KIND_LIMIT]}"
    return kind


def _message_text(
    message: Mapping[str, Any], payload_ids: PayloadIds
) -> tuple[str | None, dict[str, Any] | None]:
    """The text for Rasa and the media metadata; (None, None) for an unsupported message."""
    kind = str(message.get("type") or "unknown")
    if kind == "text":
        return _str_or_none(as_dict(message.get("text")).get("body")), None
    if kind == "interactive":
        interactive = as_dict(message.get("interactive"))
        reply_kind = str(interactive.get("type") or "unknown")
        if reply_kind not in ("button_reply", "list_reply"):
            return None, None
        reply = as_dict(interactive.get(reply_kind))
        reply_id = _str_or_none(reply.get("id"))
        payload = payload_ids.to_payload(reply_id) if reply_id else None
        if payload is None and reply_id:
            logger.warning("whatsapp: reply id of a long payload unknown here; using the title")
        return payload or _str_or_none(reply.get("title")), None
    if kind == "button":
        button = as_dict(message.get("button"))
        return _str_or_none(button.get("payload")) or _str_or_none(button.get("text")), None
    if kind in MEDIA_TYPES:
        media = as_dict(message.get(kind))
        media_id = _str_or_none(media.get("id"))
        if not media_id:
            return None, None
        info = {
            "type": kind,
            "id": media_id,
            "mime_type": _str_or_none(media.get("mime_type")),
            "caption": _str_or_none(media.get("caption")),
            "filename": _str_or_none(media.get("filename")),
        }
        return media_id, info
    return None, None


def parse_message(
    message: Mapping[str, Any],
    contacts: Sequence[Any] = (),
    *,
    payload_ids: PayloadIds = PAYLOAD_IDS,
) -> WhatsAppMessage | None:
    """One entry of `value.messages[]` as a `WhatsAppMessage`.

    Text gives its body; a tapped reply button or list row gives the payload the assistant
    offered (its id); a template quick-reply button gives its payload; an image, document,
    audio, video or sticker gives its media id as the text (the ticket form takes it as the
    attachment) and `metadata["media"]` (a caption alone is never the text).

    Args:
        message: The message object from Meta's payload.
        contacts: `value.contacts[]` of the same change (for the profile name).
        payload_ids: The reply id mapping of long button payloads.

    Returns:
        The message, or None for types the assistant does not handle (location, contacts,
        reactions, unsupported, ...) and for malformed entries.
    """
    message_id = _str_or_none(message.get("id"))
    sender = _str_or_none(message.get("from"))
    if not message_id or not sender or max(len(message_id), len(sender)) > ID_LIMIT:
        return None
    text, media = _message_text(message, payload_ids)
    text = cap_text(text) if text else None
    if not text or not text.strip():
        return None
    consent = consent_intent(text) if message.get("type") == "text" else None
    if consent is not None:  # BERHENTI / STOP / MULAI: the intent, whatever NLU reads
        text = f"/{consent}"
    metadata: dict[str, Any] = {
        "name": _profile_name(contacts, sender),
        "channel": CHANNEL_NAME,
        "phone": sender,
        "message_id": message_id,
    }
    if media is not None:
        metadata["media"] = media
    return WhatsAppMessage(
        message_id=message_id,
        sender=sender,
        type=str(message.get("type"))[:ID_LIMIT],
        text=text,
        metadata=cap_metadata(metadata),
    )


def parse_webhook(
    payload: Mapping[str, Any],
    *,
    phone_number_id: str | None = None,
    payload_ids: PayloadIds = PAYLOAD_IDS,
) -> WebhookBatch:
    """The messages and status callbacks of one webhook delivery.

    Reads Meta's shape: `entry[].changes[].value` with `messages[]`, `contacts[]`,
    `statuses[]` and `metadata.phone_number_id`.

    Args:
        payload: The parsed JSON body.
        phone_number_id: This assistant's phone number id: messages to another number of the
            same business account are left out (the answer would come from the wrong number).
        payload_ids: The reply id mapping of long button payloads.

    Returns:
        The batch.
    """
    messages: list[WhatsAppMessage] = []
    ignored: list[str] = []
    statuses = 0
    updates: list[StatusUpdate] = []
    for entry in as_list(payload.get("entry")):
        for raw_change in as_list(as_dict(entry).get("changes")):
            change = as_dict(raw_change)
            if change.get("field", "messages") != "messages":
                ignored.append(f"field:{str(change.get('field'))[:KIND_LIMIT]}")
                continue
            value = as_dict(change.get("value"))
            statuses += len(as_list(value.get("statuses")))
            raw_messages = [m for m in as_list(value.get("messages")) if isinstance(m, dict)]
            target = as_dict(value.get("metadata")).get("phone_number_id")
            if phone_number_id and target is not None and str(target) != str(phone_number_id):
                ignored.extend("other_phone_number" for _ in raw_messages)
                continue
            updates.extend(
                update
                for update in map(parse_status, as_list(value.get("statuses")))
                if update is not None
            )
            contacts = as_list(value.get("contacts"))
            for raw in raw_messages:
                parsed = parse_message(raw, contacts, payload_ids=payload_ids)
                if parsed is None:
                    ignored.append(message_kind(raw))
                else:
                    messages.append(parsed)
    return WebhookBatch(
        messages=tuple(messages),
        statuses=statuses,
        ignored=tuple(ignored),
        status_updates=tuple(updates),
    )
