"""How answers look on Messenger and Instagram: texts, quick replies, images (pure functions).

Send API message bodies (`recipient`, `messaging_type`, `message`) for Rasa's responses,
within the platforms' limits; long button payloads travel as short ids (`QuickReplyIds`).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from connectors.common import PayloadStore, ShortIds, choices, shorten, split_text
from connectors.meta.window import SendMode

#: Send API limits (characters) and the most quick replies one message may carry.
TEXT_LIMIT = 2000


QUICK_REPLY_TITLE_LIMIT = 20


QUICK_REPLY_PAYLOAD_LIMIT = 1000


MAX_QUICK_REPLIES = 13


#: The text above the choices when the answer has none of its own (Indonesian, as everything
#: the citizen reads).
CHOICES_PROMPT = "Silakan pilih:"


def fits_payload(payload: str) -> bool:
    """Whether `payload` can be a quick reply's payload as it is (at most 1000 characters)."""
    return len(payload) <= QUICK_REPLY_PAYLOAD_LIMIT


class QuickReplyIds(ShortIds):
    """Maps button payloads to quick-reply payloads and back (see `ShortIds`).

    A payload of at most 1000 characters is its own id, so a tap comes back as exactly the
    payload the assistant offered; a longer one gets "meta-payload:" and its SHA-256.
    """

    PREFIX = "meta-payload:"

    def __init__(self, max_entries: int = 10_000, *, store: PayloadStore | None = None) -> None:
        super().__init__(self.PREFIX, fits_payload, max_entries=max_entries, store=store)


#: The mapping shared by this process's Messenger and Instagram channels.
PAYLOAD_IDS = QuickReplyIds()


def envelope(recipient_id: str, message: Mapping[str, Any], mode: SendMode) -> dict[str, Any]:
    """A Send API body: `message` to `recipient_id`, sent the way `mode` allows."""
    body: dict[str, Any] = {
        "recipient": {"id": recipient_id},
        "messaging_type": mode.messaging_type,
        "message": dict(message),
    }
    if mode.tag:
        body["tag"] = mode.tag
    return body


def text_messages(text: str) -> list[dict[str, Any]]:
    """`message` objects for a text (several when it is longer than 2000 characters)."""
    return [{"text": part} for part in split_text(text, TEXT_LIMIT)]


def numbered_text(text: str, titles: Sequence[str]) -> str:
    """`text` followed by the choices as a numbered list ("1. ...")."""
    lines = "\n".join(f"{index}. {title}" for index, title in enumerate(titles, start=1))
    return f"{text.strip()}\n\n{lines}" if text.strip() else lines


def button_messages(
    text: str,
    buttons: Sequence[Mapping[str, Any]],
    *,
    payload_ids: ShortIds = PAYLOAD_IDS,
    prompt: str = CHOICES_PROMPT,
) -> list[dict[str, Any]]:
    """`message` objects for a text with Rasa buttons.

    Up to 13 buttons become quick replies (titles shortened to 20 characters, payloads of
    over 1000 characters as short ids) on the last part of the text (`prompt` when there is
    no text); more, or shortened titles that clash, a text with numbered choices.

    Args:
        text: The message text.
        buttons: Rasa buttons (`title`, `payload`).
        payload_ids: The mapping of long payloads.
        prompt: The text of the choices when the answer has none.

    Returns:
        The `message` objects, in sending order.
    """
    options = choices(buttons)
    if not options:
        return text_messages(text)
    titles = [title for title, _ in options]
    short_titles = [shorten(title, QUICK_REPLY_TITLE_LIMIT, at_word=True) for title in titles]
    if len(options) > MAX_QUICK_REPLIES or len(set(short_titles)) != len(short_titles):
        return text_messages(numbered_text(text, titles))
    messages = text_messages(text.strip() or prompt)
    messages[-1]["quick_replies"] = [
        {"content_type": "text", "title": title, "payload": payload_ids.to_id(payload)}
        for title, (_, payload) in zip(short_titles, options, strict=True)
    ]
    return messages


def image_message(image_url: str) -> dict[str, Any]:
    """A `message` object sending the image at the public URL `image_url`."""
    return {"attachment": {"type": "image", "payload": {"url": image_url, "is_reusable": False}}}


#: Types Messenger shows as a picture; other files go as a "file" attachment.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})


def attachment_kind(content_type: str) -> str:
    """The Send API attachment type of a file: "image" or "file"."""
    return "image" if content_type in IMAGE_TYPES else "file"


def upload_message(kind: str) -> dict[str, Any]:
    """The `message` field of an attachment upload (`/message_attachments`, multipart)."""
    return {"attachment": {"type": kind, "payload": {"is_reusable": False}}}


def uploaded_message(kind: str, attachment_id: str) -> dict[str, Any]:
    """A `message` object sending an uploaded file by its attachment id."""
    return {"attachment": {"type": kind, "payload": {"attachment_id": attachment_id}}}
