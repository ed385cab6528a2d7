"""How answers look on WhatsApp: texts, reply buttons, lists, images, approved templates
(pure functions).

The Graph API message bodies for Rasa's responses, within WhatsApp's limits; long button
payloads travel as short reply ids (`PayloadIds`).
"""

from __future__ import annotations

from typing import (
    Any,
    Mapping,
    Sequence,
)

from connectors.common import (
    ELLIPSIS,
    PayloadStore,
    ShortIds,
    choices,
    head,
    one_line,
)
from connectors.common import shorten as _shorten
from connectors.common import split_text as _split_text
from helpdesk.conversation.message_templates import MessageTemplate, template_message

#: WhatsApp Cloud API limits (characters).
TEXT_LIMIT = 4096


INTERACTIVE_BODY_LIMIT = 1024


BUTTON_TITLE_LIMIT = 20


REPLY_ID_LIMIT = 256


ROW_TITLE_LIMIT = 24


ROW_DESCRIPTION_LIMIT = 72


SECTION_TITLE_LIMIT = 24


MAX_REPLY_BUTTONS = 3


MAX_LIST_ROWS = 10


#: Channel texts (Indonesian, like everything the citizen reads).
CHOICES_PROMPT = "Silakan pilih:"


LIST_BUTTON_LABEL = "Pilih"


LIST_SECTION_TITLE = "Pilihan"


def fits_reply_id(payload: str) -> bool:
    """Whether `payload` can be a reply id as it is (at most 256 characters)."""
    return len(payload) <= REPLY_ID_LIMIT


class PayloadIds(ShortIds):
    """Maps button payloads to WhatsApp reply ids and back (see `ShortIds`).

    A payload of at most 256 characters is its own id, so a tap comes back as exactly the
    payload the assistant offered ("/affirm", "2"). A longer payload gets "wa-payload:" and
    the SHA-256 of it as its id, remembered in this process and, with a store, in the helpdesk
    database; a tap on such an id that neither knows gives None, and the caller uses the title.
    """

    PREFIX = "wa-payload:"

    def __init__(self, max_entries: int = 10_000, *, store: PayloadStore | None = None) -> None:
        super().__init__(self.PREFIX, fits_reply_id, max_entries=max_entries, store=store)


#: The mapping shared by this process's output channels and webhook parser.
PAYLOAD_IDS = PayloadIds()


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split `text` into parts of at most `limit` characters (see `common.split_text`)."""
    return _split_text(text, limit)


def shorten(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters, ending in "…" when it was cut.

    The cut comes after a whole word when it can (see `common.shorten`).
    """
    return _shorten(text, limit, at_word=True)


def split_title(
    text: str, title_limit: int = ROW_TITLE_LIMIT, description_limit: int = ROW_DESCRIPTION_LIMIT
) -> tuple[str, str | None]:
    """A list row's title and description: the rest of a long title goes to the description.

    Returns:
        (title, description or None).
    """
    line = one_line(text)
    if len(line) <= title_limit:
        return line, None
    start = head(line, title_limit, at_word=True)
    rest = line[len(start) :].strip()
    return start + ELLIPSIS, (shorten(rest, description_limit) or None)


def _base(recipient_id: str, kind: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient_id,
        "type": kind,
    }


def text_bodies(recipient_id: str, text: str) -> list[dict[str, Any]]:
    """Graph API message bodies for a text (several when it is longer than 4096 characters)."""
    bodies = []
    for part in split_text(text):
        body = _base(recipient_id, "text")
        body["text"] = {"preview_url": False, "body": part}
        bodies.append(body)
    return bodies


def _body_and_lead(recipient_id: str, text: str, prompt: str) -> tuple[str, list[dict[str, Any]]]:
    """The interactive body text, and the text messages to send before it (long text)."""
    text = text.strip()
    if not text:
        return prompt, []
    if len(text) <= INTERACTIVE_BODY_LIMIT:
        return text, []
    return prompt, text_bodies(recipient_id, text)


def numbered_text(text: str, titles: Sequence[str]) -> str:
    """`text` followed by the choices as a numbered list ("1. ...")."""
    lines = "\n".join(f"{index}. {title}" for index, title in enumerate(titles, start=1))
    return f"{text.strip()}\n\n{lines}" if text.strip() else lines


def button_bodies(
    recipient_id: str,
    text: str,
    buttons: Sequence[Mapping[str, Any]],
    *,
    payload_ids: PayloadIds = PAYLOAD_IDS,
    prompt: str = CHOICES_PROMPT,
    list_button: str = LIST_BUTTON_LABEL,
    section_title: str = LIST_SECTION_TITLE,
) -> list[dict[str, Any]]:
    """Graph API message bodies for a text with Rasa buttons.

    Up to three buttons become reply buttons (titles shortened to 20 characters), four to ten
    a list message (row titles 24 characters, the rest of a long title as the row
    description), more a text with numbered choices. Each reply id is the button's payload
    (see `PayloadIds`). A text longer than the 1024 characters an interactive body holds is
    sent first, followed by the choices under a short `prompt`. Should shortened titles or ids
    clash, the next simpler form is used (list, then numbered text).

    Args:
        recipient_id: The citizen's phone number.
        text: The message text.
        buttons: Rasa buttons (`title`, `payload`).
        payload_ids: The reply id mapping of long payloads.
        prompt: The body of the choices when the text goes separately (or is empty).
        list_button: The label of the button that opens a list.
        section_title: The title of the list's section.

    Returns:
        The bodies, in sending order.
    """
    options = choices(buttons)
    if not options:
        return text_bodies(recipient_id, text)
    titles = [title for title, _ in options]
    ids = [payload_ids.to_id(payload) for _, payload in options]
    ids_unique = len(set(ids)) == len(ids)

    if len(options) <= MAX_REPLY_BUTTONS and ids_unique:
        short_titles = [shorten(title, BUTTON_TITLE_LIMIT) for title in titles]
        if len(set(short_titles)) == len(short_titles):
            body_text, lead = _body_and_lead(recipient_id, text, prompt)
            body = _base(recipient_id, "interactive")
            body["interactive"] = {
                "type": "button",
                "body": {"text": body_text},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": reply_id, "title": title}}
                        for reply_id, title in zip(ids, short_titles, strict=True)
                    ]
                },
            }
            return [*lead, body]

    if len(options) <= MAX_LIST_ROWS and ids_unique:
        rows = []
        for reply_id, title in zip(ids, titles, strict=True):
            row_title, description = split_title(title)
            row: dict[str, Any] = {"id": reply_id, "title": row_title}
            if description:
                row["description"] = description
            rows.append(row)
        body_text, lead = _body_and_lead(recipient_id, text, prompt)
        body = _base(recipient_id, "interactive")
        body["interactive"] = {
            "type": "list",
            "body": {"text": body_text},
            "action": {
                "button": shorten(list_button, BUTTON_TITLE_LIMIT),
                "sections": [{"title": shorten(section_title, SECTION_TITLE_LIMIT), "rows": rows}],
            },
        }
        return [*lead, body]

    return text_bodies(recipient_id, numbered_text(text, titles))


def image_body(recipient_id: str, image_url: str) -> dict[str, Any]:
    """A Graph API body sending the image at the public URL `image_url`."""
    body = _base(recipient_id, "image")
    body["image"] = {"link": image_url}
    return body


#: The longest caption of an image or a document.
CAPTION_LIMIT = 1024
#: The type each kept file is uploaded as, and how it is sent ("image" or "document"); the
#: Cloud API takes no other images (GIF, WebP) as a photo or a document. A CSV is plain text.
MEDIA_UPLOADS: dict[str, tuple[str, str]] = {
    "image/jpeg": ("image/jpeg", "image"),
    "image/png": ("image/png", "image"),
    "application/pdf": ("application/pdf", "document"),
    "application/msword": ("application/msword", "document"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "document",
    ),
    "application/vnd.ms-excel": ("application/vnd.ms-excel", "document"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "document",
    ),
    "text/plain": ("text/plain", "document"),
    "text/csv": ("text/plain", "document"),
}


def media_bodies(
    recipient_id: str, media_id: str, kind: str, filename: str, text: str = ""
) -> list[dict[str, Any]]:
    """Graph API bodies sending an uploaded file by its media id: an "image" or a
    "document" (with its file name), `text` as its caption, or first as text messages of
    their own when it is longer than a caption may be."""
    text = text.strip()
    lead = text_bodies(recipient_id, text) if len(text) > CAPTION_LIMIT else []
    media: dict[str, Any] = {"id": media_id}
    if kind == "document":
        media["filename"] = filename
    if text and not lead:
        media["caption"] = text
    body = _base(recipient_id, kind)
    body[kind] = media
    return [*lead, body]


def template_body(
    recipient_id: str, template: MessageTemplate, values: Mapping[str, Any]
) -> dict[str, Any]:
    """A Graph API body sending the approved `template` (`message_templates.template_message`).

    Raises:
        ParameterError: When a value cannot fill its variable (see
            `MessageTemplate.parameters`).
    """
    return template_message(recipient_id, template, values)
