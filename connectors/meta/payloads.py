"""Messenger and Instagram webhook deliveries as inbox items (pure parsing, no I/O).

Both platforms deliver `{"object": "page" | "instagram", "entry": [{"id", "time",
"messaging": [{"sender": {"id"}, "recipient": {"id"}, "timestamp", "message" | "postback" |
"delivery" | "read" | "reaction" ...}]}]}`; only citizens' messages and postbacks become
messages for Rasa.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping

from connectors.common import (
    METADATA_TEXT_LIMIT,
    as_dict,
    as_list,
    cap_metadata,
    cap_text,
    str_or_none,
)
from connectors.common.text import ShortIds
from connectors.inbox import Inbound

#: The channel names: URL prefix, `input_channel` of the messages, `channel` in the database.
MESSENGER = "messenger"
INSTAGRAM = "instagram"


#: The `object` of each channel's deliveries.
WEBHOOK_OBJECTS = {MESSENGER: "page", INSTAGRAM: "instagram"}


#: The longest message id and sender accepted (Meta's mids are about 100 characters, PSIDs
#: about 17 digits); the database keeps 255, and a longer one would be refused there.
ID_LIMIT = 255


#: How much of an event or attachment type from a payload is logged.
KIND_LIMIT = 40


#: Attachment types a citizen sends that carry a file URL, and how the text names them.
ATTACHMENT_LABELS = {
    "image": "gambar",
    "video": "video",
    "audio": "rekaman suara",
    "file": "berkas",
}


#: The text of an attachment for Rasa: the ticket form takes the first URL in it.
ATTACHMENT_TEXT = "Lampiran {label}: {url}"


#: The text of an attachment whose URL is too long to keep.
ATTACHMENT_TEXT_NO_URL = "Lampiran {label}"


#: Events in `messaging[]` that are no message (acknowledged, never answered).
NON_MESSAGE_EVENTS = (
    "delivery",
    "read",
    "reaction",
    "message_edit",
    "optin",
    "referral",
    "account_linking",
    "policy_enforcement",
)


_str_or_none = functools.partial(str_or_none, scalars_only=True)


@dataclass(frozen=True)
class WebhookBatch:
    """What one webhook delivery holds.

    Attributes:
        messages: The citizens' messages to handle, in delivery order.
        ignored: The kinds of the events left out ("echo", "read", "other_account", ...).
    """

    messages: tuple[Inbound, ...] = ()
    ignored: tuple[str, ...] = ()


def event_kind(event: Mapping[str, Any]) -> str:
    """An event's kind for logs: "message", "postback", "echo", "read", ..."""
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return "echo"
        if message.get("is_deleted"):
            return "deleted"
        if message.get("is_unsupported"):
            return "unsupported"
        return "message"
    for kind in ("postback", *NON_MESSAGE_EVENTS):
        if kind in event:
            return kind
    return "unknown"


def attachments_of(message: Mapping[str, Any]) -> list[dict[str, str | None]]:
    """The file attachments of a message: `{"type", "url"}` each (url None when too long)."""
    found: list[dict[str, str | None]] = []
    for raw in as_list(message.get("attachments")):
        attachment = as_dict(raw)
        kind = _str_or_none(attachment.get("type"))
        if kind not in ATTACHMENT_LABELS:
            continue
        url = _str_or_none(as_dict(attachment.get("payload")).get("url"))
        if url is not None and (len(url) > METADATA_TEXT_LIMIT or not url.startswith("http")):
            url = None
        found.append({"type": kind, "url": url})
    return found


def attachments_text(attachments: list[dict[str, str | None]]) -> str:
    """The user's text for attachments: one line each, "Lampiran gambar: https://..."."""
    lines = []
    for attachment in attachments:
        label = ATTACHMENT_LABELS[str(attachment["type"])]
        url = attachment["url"]
        template = ATTACHMENT_TEXT if url else ATTACHMENT_TEXT_NO_URL
        lines.append(template.format(label=label, url=url))
    return "\n".join(lines)


def _message_text(
    event: Mapping[str, Any], payload_ids: ShortIds
) -> tuple[str | None, str, dict[str, Any]]:
    """The text for Rasa, the message's kind and its extra metadata; (None, kind, {}) when the
    event is not a message for Rasa."""
    kind = event_kind(event)
    extra: dict[str, Any] = {}
    if kind == "postback":
        postback = as_dict(event.get("postback"))
        payload = _str_or_none(postback.get("payload"))
        if payload is not None:
            payload = payload_ids.to_payload(payload)
        return payload or _str_or_none(postback.get("title")), kind, extra
    if kind != "message":
        return None, kind, extra
    message = as_dict(event.get("message"))
    story = as_dict(as_dict(message.get("reply_to")).get("story"))
    story_url = _str_or_none(story.get("url"))
    if story_url:
        extra["story_url"] = story_url
    quick_reply = _str_or_none(as_dict(message.get("quick_reply")).get("payload"))
    if quick_reply is not None:
        payload = payload_ids.to_payload(quick_reply)
        return payload or _str_or_none(message.get("text")), "quick_reply", extra
    text = _str_or_none(message.get("text"))
    attachments = attachments_of(message)
    if attachments:
        first = attachments[0]
        extra["media"] = {"type": first["type"], "url": first["url"], "count": len(attachments)}
        if not text or not text.strip():
            return attachments_text(attachments), "attachment", extra
    if text is None and as_list(message.get("attachments")):
        kinds = {str(as_dict(a).get("type"))[:KIND_LIMIT] for a in message["attachments"]}
        return None, "attachment:" + ",".join(sorted(kinds)), extra
    return text, "text", extra


def parse_event(event: Mapping[str, Any], channel: str, payload_ids: ShortIds) -> Inbound | str:
    """One entry of `messaging[]` as an inbox item, or the kind of the event left out.

    A text gives its text; a tapped quick reply or a postback the payload the assistant
    offered (the title when a long payload's id is unknown here); attachments without text
    one line per attachment, "Lampiran gambar: <url>" (the ticket form keeps the first URL as
    the attachment), with `metadata["media"]`. Echoes, deleted and unsupported messages,
    deliveries, reads and reactions are left out.
    """
    sender = _str_or_none(as_dict(event.get("sender")).get("id"))
    text, kind, extra = _message_text(event, payload_ids)
    if text is None or not text.strip():
        return kind
    if kind == "postback":
        message_id = _str_or_none(as_dict(event.get("postback")).get("mid"))
        if message_id is None:  # older postbacks carry no mid: the time makes one
            message_id = f"postback:{sender}:{_str_or_none(event.get('timestamp'))}"
    else:
        message_id = _str_or_none(as_dict(event.get("message")).get("mid"))
    if not message_id or not sender or max(len(message_id), len(sender)) > ID_LIMIT:
        return "malformed"
    metadata: dict[str, Any] = {
        "channel": channel,
        "sender_id": sender,
        "message_id": message_id,
        **extra,
    }
    return Inbound(
        key=message_id,
        sender=sender,
        kind=kind,
        text=cap_text(text),
        metadata=cap_metadata(metadata),
    )


def parse_webhook(
    payload: Mapping[str, Any],
    channel: str,
    *,
    account_id: str | None = None,
    payload_ids: ShortIds,
) -> WebhookBatch:
    """The citizens' messages of one Messenger or Instagram delivery.

    Args:
        payload: The parsed JSON body.
        channel: `MESSENGER` or `INSTAGRAM`: a delivery of the other platform's object is
            left out whole.
        account_id: This assistant's page or Instagram account id: events for another one
            (the same app serving several) are left out, and so is anything it sent itself.
        payload_ids: The mapping of long quick-reply payloads.

    Returns:
        The batch.
    """
    expected = WEBHOOK_OBJECTS[channel]
    if payload.get("object") != expected:
        return WebhookBatch(ignored=(f"object:{str(payload.get('object'))[:KIND_LIMIT]}",))
    messages: list[Inbound] = []
    ignored: list[str] = []
    for raw_entry in as_list(payload.get("entry")):
        entry = as_dict(raw_entry)
        for raw_event in as_list(entry.get("messaging")):
            event = as_dict(raw_event)
            if account_id:
                recipient = _str_or_none(as_dict(event.get("recipient")).get("id"))
                sender = _str_or_none(as_dict(event.get("sender")).get("id"))
                if sender == str(account_id):
                    ignored.append("own_message")
                    continue
                if recipient is not None and recipient != str(account_id):
                    ignored.append("other_account")
                    continue
            parsed = parse_event(event, channel, payload_ids)
            if isinstance(parsed, Inbound):
                messages.append(parsed)
            else:
                ignored.append(parsed[:KIND_LIMIT])
        if "changes" in entry:
            ignored.extend("change" for _ in as_list(entry.get("changes")))
    return WebhookBatch(messages=tuple(messages), ignored=tuple(ignored))
