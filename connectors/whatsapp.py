"""WhatsApp channel for Meta's WhatsApp Cloud API.

`WhatsAppInput` receives Meta's webhook at `/webhooks/whatsapp/webhook` (GET: subscription
check, POST: signed deliveries); `WhatsAppOutput` sends answers through the Graph API and can be
used on its own, outside a request (e.g. by a sweeper closing idle sessions). Register the
channel in `credentials.yml`; the values come from the environment (Rasa expands `${VAR}` when
it reads the file and refuses to start when one of them is not set)::

    connectors.whatsapp.WhatsAppInput:
      access_token: ${WHATSAPP_ACCESS_TOKEN}
      phone_number_id: ${WHATSAPP_PHONE_NUMBER_ID}
      app_secret: ${WHATSAPP_APP_SECRET}
      verify_token: ${WHATSAPP_VERIFY_TOKEN}
      api_url: ${WHATSAPP_API_URL}

`api_url` is the Graph API base URL; when it is empty (or the line is left out) the default
`https://graph.facebook.com/v20.0` is used. The upper-case names (`WHATSAPP_ACCESS_TOKEN: ...`)
are accepted as keys too.

Behaviour:

* A delivery is processed only when its `X-Hub-Signature-256` header is the HMAC-SHA256 of the
  raw body with the app secret (403 otherwise). A body over `BODY_LIMIT` is refused unread
  (413); one that is not a JSON object, or nests deeper than Meta's ever do, gets 400: neither
  is a Meta delivery. A signed delivery whose contents cannot be used (odd types, ids too long,
  a message the database refuses for its content) is answered 200 and logged: Meta retries
  every other answer for days.
* Texts are cleaned (no NUL, no lone surrogates) and cut at `connectors.common
  .MESSAGE_TEXT_LIMIT` characters; every string of the metadata is capped
  (`connectors.common.cap_metadata`).
* Each message id is claimed in the helpdesk database (`inbound_message`) before the webhook
  answers 200, so a re-delivered message is acknowledged and not answered twice, also after a
  restart. The messages are then handled in background tasks (in order per sender), so slow
  dialogue work never makes Meta retry.
* A claimed message whose handling did not finish (the process died) is handled again when the
  server starts next (at least once); see `WhatsAppInput.recover_pending`.
* Logs never hold message content, not even in the messages of exceptions
  (`connectors.common.failure_trace`), and phone numbers appear masked (last four digits).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import (
    TYPE_CHECKING,
    Any,
    Iterable,
    Mapping,
    Sequence,
)

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import (
    ELLIPSIS,
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
    head,
    json_object,
    mask_id,
    missing_message,
    one_line,
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
CHANNEL_NAME = "whatsapp"
DEFAULT_API_URL = "https://graph.facebook.com/v20.0"

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

#: The largest webhook body read (bytes); larger ones get 413 unread. Meta documents webhook
#: payloads of up to 3 MB (a batch of several messages; one text of 4096 emoji, each escaped
#: as two "\\uXXXX", is about 50 KB), so this refuses only what Meta never sends.
BODY_LIMIT = 3 * 1024 * 1024
#: The longest message id and sender accepted (Meta's are about 60 and 15 characters); the
#: database keeps 255, and a longer one would be refused there, and retried by Meta, forever.
ID_LIMIT = 128
#: How much of a type name from a payload is logged.
KIND_LIMIT = 40

#: Message types a citizen sends that carry a media id.
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")

#: A claimed message younger than this may still be in work in another process: not recovered.
RECOVERY_DELAY = timedelta(minutes=1)
#: Unfinished messages older than this are dropped, not answered: WhatsApp only lets a business
#: answer freely within 24 hours of the citizen's last message.
RECOVERY_MAX_AGE = timedelta(hours=24)
#: Handled message ids are kept this long (Meta re-delivers for up to 7 days).
DEDUP_RETENTION = timedelta(days=30)

#: Credential keys in credentials.yml and the environment variables that fill them.
REQUIRED_CREDENTIALS = {
    "access_token": "WHATSAPP_ACCESS_TOKEN",
    "phone_number_id": "WHATSAPP_PHONE_NUMBER_ID",
    "app_secret": "WHATSAPP_APP_SECRET",
    "verify_token": "WHATSAPP_VERIFY_TOKEN",
}
OPTIONAL_CREDENTIALS = {"api_url": "WHATSAPP_API_URL"}


class WhatsAppConfigError(RasaException):
    """The WhatsApp channel is missing credentials."""


class WhatsAppSendError(Exception):
    """The Graph API did not accept a message (raised only when asked to).

    The message names the HTTP status and Meta's error code, never the content.
    """

    def __init__(self, status: int | None, error_code: Any = None) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(f"WhatsApp send failed (HTTP {status}, error code {error_code})")


# --------------------------------------------------------------------------- helpers


#: A phone number (or any sender id) for logs: "6281234567890" -> "***7890".
mask_phone = mask_id

_missing_message = functools.partial(missing_message, "WhatsApp", "connectors/whatsapp.py")
#: A JSON value as a non-empty string; None for a dict or list (whose `str()` is no text, and
#: of a deeply nested one can exceed Python's recursion limit).
_str_or_none = functools.partial(str_or_none, scalars_only=True)


def _blank(**values: Any) -> list[str]:
    """The names of the values that are missing or empty (see `clean_credential`), in order."""
    return [name for name, value in values.items() if not clean_credential(value)]


def verify_signature(app_secret: str, body: bytes, signature_header: str | None) -> bool:
    """Check Meta's `X-Hub-Signature-256` header against the raw request body.

    Args:
        app_secret: The Meta app secret.
        body: The raw request body, exactly as received.
        signature_header: The header value, `sha256=<hex digest>`.

    Returns:
        True when the header is the HMAC-SHA256 of `body` keyed with `app_secret`.
    """
    if not app_secret or not signature_header:
        return False
    scheme, _, received = signature_header.strip().partition("=")
    if scheme.lower() != "sha256" or not received:
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), received.strip().lower().encode("utf-8"))


def verify_subscription(args: Mapping[str, Any], verify_token: str) -> str | None:
    """Meta's webhook subscription check (`GET ...?hub.mode=subscribe&hub.verify_token=...`).

    Args:
        args: The query arguments, one value per name.
        verify_token: The verify token configured in the Meta app.

    Returns:
        The `hub.challenge` to echo when the request is a subscription with the right token,
        else None.
    """
    mode = args.get("hub.mode")
    token = args.get("hub.verify_token")
    challenge = args.get("hub.challenge")
    if mode != "subscribe" or not isinstance(token, str) or not verify_token:
        return None
    if not hmac.compare_digest(token.encode("utf-8"), verify_token.encode("utf-8")):
        return None
    return challenge if isinstance(challenge, str) and challenge else None


def fits_reply_id(payload: str) -> bool:
    """Whether `payload` can be a reply id as it is (at most 256 characters)."""
    return len(payload) <= REPLY_ID_LIMIT


class PayloadIds(ShortIds):
    """Maps button payloads to WhatsApp reply ids and back (see `ShortIds`).

    A payload of at most 256 characters is its own id, so a tap comes back as exactly the
    payload the assistant offered ("/affirm", "2"). A longer payload gets "wa-payload:" and
    the SHA-256 of it as its id, remembered in this process; a tap on such an id that this
    process does not know (any more) gives None, and the caller uses the title.
    """

    PREFIX = "wa-payload:"

    def __init__(self, max_entries: int = 10_000) -> None:
        super().__init__(self.PREFIX, fits_reply_id, max_entries=max_entries)


#: The mapping shared by this process's output channels and webhook parser.
PAYLOAD_IDS = PayloadIds()


# --------------------------------------------------------------------------- inbound parsing


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
    """

    messages: tuple[WhatsAppMessage, ...] = ()
    statuses: int = 0
    ignored: tuple[str, ...] = ()


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
            contacts = as_list(value.get("contacts"))
            for raw in raw_messages:
                parsed = parse_message(raw, contacts, payload_ids=payload_ids)
                if parsed is None:
                    ignored.append(message_kind(raw))
                else:
                    messages.append(parsed)
    return WebhookBatch(messages=tuple(messages), statuses=statuses, ignored=tuple(ignored))


# --------------------------------------------------------------------------- outbound rendering


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


# --------------------------------------------------------------------------- output channel


async def _graph_error_code(resp: aiohttp.ClientResponse) -> Any:
    """Meta's error code (`error.code`, with `/error_subcode` when given), or None."""
    with contextlib.suppress(Exception):
        error = as_dict(as_dict(json.loads(await resp.text())).get("error"))
        code, subcode = error.get("code"), error.get("error_subcode")
        return f"{code}/{subcode}" if subcode is not None else code
    return None


class WhatsAppOutput(OutputChannel):
    """Sends messages through the WhatsApp Cloud API (`POST /{phone_number_id}/messages`).

    Connection errors, timeouts, HTTP 429 and 5xx are retried with exponential backoff; other
    4xx are not. A message that could not be sent is logged (HTTP status and Meta's error code,
    never the content; the recipient masked) and, unless `raise_on_failure` is set, the
    conversation goes on. Works inside Rasa and on its own (`from_env()`, `async with`).
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def __init__(
        self,
        access_token: str,
        phone_number_id: str,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        raise_on_failure: bool = False,
        payload_ids: PayloadIds = PAYLOAD_IDS,
    ) -> None:
        """Create the output channel.

        Args:
            access_token: The Graph API access token.
            phone_number_id: The business phone number id that sends.
            api_url: The Graph API base URL (with version).
            timeout: Seconds before one HTTP attempt is given up.
            attempts: Attempts per message in total (>= 1).
            backoff: The first pause between attempts in seconds; it doubles each time.
            raise_on_failure: Raise `WhatsAppSendError` when a message cannot be sent (e.g. in
                a sweeper that must know) instead of logging it and going on.
            payload_ids: The reply id mapping of long button payloads.

        Raises:
            WhatsAppConfigError: For a missing token or phone number id.
            ValueError: For a non-positive timeout or attempts, or a negative backoff.
        """
        missing = _blank(access_token=access_token, phone_number_id=phone_number_id)
        if missing:
            raise WhatsAppConfigError(_missing_message(missing))
        check_retry_settings(timeout, attempts, backoff)
        self.access_token = clean_credential(access_token)
        self.phone_number_id = clean_credential(phone_number_id)
        self.api_url = base_url(api_url, DEFAULT_API_URL)
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.raise_on_failure = raise_on_failure
        self.payload_ids = payload_ids
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> "WhatsAppOutput":
        """The output channel configured by WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID and
        (optional) WHATSAPP_API_URL.

        Args:
            environ: The environment (default `os.environ`).
            **kwargs: Passed on to the constructor (timeout, attempts, raise_on_failure, ...).

        Raises:
            WhatsAppConfigError: Naming the variables that are missing or empty.
        """
        env = os.environ if environ is None else environ
        token = clean_credential(env.get("WHATSAPP_ACCESS_TOKEN"))
        number = clean_credential(env.get("WHATSAPP_PHONE_NUMBER_ID"))
        missing = _blank(WHATSAPP_ACCESS_TOKEN=token, WHATSAPP_PHONE_NUMBER_ID=number)
        if missing:
            raise WhatsAppConfigError(_missing_message(missing, what="environment variables"))
        api_url = clean_credential(env.get("WHATSAPP_API_URL")) or DEFAULT_API_URL
        return cls(token, number, api_url, **kwargs)

    @property
    def messages_url(self) -> str:
        """The Graph API endpoint the messages are posted to."""
        return f"{self.api_url}/{self.phone_number_id}/messages"

    async def _client(self) -> aiohttp.ClientSession:
        """One HTTP session per event loop, made on first use."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Authorization": f"Bearer {self.access_token}"},
            )
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (a new one is made when something is sent later)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            with contextlib.suppress(RuntimeError):  # its event loop is gone
                await session.close()

    async def __aenter__(self) -> "WhatsAppOutput":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def send_body(self, body: Mapping[str, Any]) -> bool:
        """Post one Graph API message body, retrying transient failures.

        Args:
            body: The message body (`messaging_product`, `to`, `type`, ...).

        Returns:
            True when the Graph API accepted the message.

        Raises:
            WhatsAppSendError: When it was not accepted and `raise_on_failure` is set.
        """
        kind = str(body.get("type", "message"))
        recipient = mask_phone(str(body.get("to", "")))
        status: int | None = None
        error_code: Any = None
        for attempt in range(1, self.attempts + 1):
            retryable = True
            try:
                session = await self._client()
                async with session.post(self.messages_url, json=dict(body)) as resp:
                    status = resp.status
                    if 200 <= status < 300:
                        await resp.read()
                        return True
                    error_code = await _graph_error_code(resp)
                    retryable = status == 429 or status >= 500
                    reason = f"HTTP {status}, error code {error_code}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                status, error_code = None, None
                reason = type(exc).__name__
            last = attempt == self.attempts or not retryable
            logger.log(
                logging.ERROR if last else logging.WARNING,
                "whatsapp: sending a %s message to %s failed (%s; attempt %d of %d)%s",
                kind,
                recipient,
                reason,
                attempt,
                self.attempts,
                "" if last else "; retrying",
            )
            if last:
                break
            await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        if self.raise_on_failure:
            raise WhatsAppSendError(status, error_code)
        return False

    async def send_bodies(self, bodies: Iterable[Mapping[str, Any]]) -> bool:
        """Post message bodies in order; stops at the first one that is not accepted."""
        for body in bodies:
            if not await self.send_body(body):
                return False
        return True

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Send a text, split into several messages beyond 4096 characters."""
        await self.send_bodies(text_bodies(recipient_id, text))

    async def send_text_with_buttons(
        self,
        recipient_id: str,
        text: str,
        buttons: list[dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        """Send a text with choices: reply buttons, a list or numbered text (by their number)."""
        await self.send_bodies(
            button_bodies(recipient_id, text or "", buttons, payload_ids=self.payload_ids)
        )

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """Send the image at a public URL."""
        await self.send_body(image_body(recipient_id, image))

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """Post a Graph API message body as given (`to` and `messaging_product` filled in)."""
        body = dict(json_message)
        body.setdefault("messaging_product", "whatsapp")
        body.setdefault("to", recipient_id)
        await self.send_body(body)


# --------------------------------------------------------------------------- input channel


class WhatsAppInput(InputChannel):
    """Receives Meta's WhatsApp Cloud API webhook (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """The channel from its credentials.yml block.

        Raises:
            WhatsAppConfigError: Naming every required credential that is missing or empty.
        """
        values, missing = read_credentials(
            credentials, REQUIRED_CREDENTIALS, OPTIONAL_CREDENTIALS, env_name_keys=True
        )
        if missing:
            raise WhatsAppConfigError(_missing_message(missing))
        return cls(
            access_token=values["access_token"],
            phone_number_id=values["phone_number_id"],
            app_secret=values["app_secret"],
            verify_token=values["verify_token"],
            api_url=values["api_url"] or DEFAULT_API_URL,
        )

    def __init__(
        self,
        access_token: str,
        phone_number_id: str,
        app_secret: str,
        verify_token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        repository: "InboundMessageRepository" | None = None,
        output: WhatsAppOutput | None = None,
        recovery_delay: timedelta = RECOVERY_DELAY,
        shutdown_timeout: float = 10.0,
    ) -> None:
        """Create the input channel.

        Args:
            access_token: The Graph API access token (for the answers).
            phone_number_id: The business phone number id the citizens write to.
            app_secret: The Meta app secret that signs the deliveries.
            verify_token: The token Meta's subscription check must present.
            api_url: The Graph API base URL (with version).
            repository: Where message ids are claimed (default: the helpdesk services' one).
            output: The output channel of the answers (default: one from these credentials).
            recovery_delay: How long ago an unfinished message must have been claimed to be
                handled again at start.
            shutdown_timeout: Seconds the server waits, when stopping, for messages in work.

        Raises:
            WhatsAppConfigError: For a missing credential.
        """
        missing = _blank(
            access_token=access_token,
            phone_number_id=phone_number_id,
            app_secret=app_secret,
            verify_token=verify_token,
        )
        if missing:
            raise WhatsAppConfigError(_missing_message(missing))
        self.phone_number_id = clean_credential(phone_number_id)
        self.app_secret = clean_credential(app_secret)
        self.verify_token = clean_credential(verify_token)
        self.api_url = base_url(api_url, DEFAULT_API_URL)
        self.output = output or WhatsAppOutput(
            clean_credential(access_token), self.phone_number_id, self.api_url
        )
        self.inbox = Inbox(
            CHANNEL_NAME,
            self.output,
            log=logger,
            repository=repository,
            policy=InboxPolicy(
                recovery_delay=recovery_delay,
                max_age=RECOVERY_MAX_AGE,
                retention=DEDUP_RETENTION,
                shutdown_timeout=shutdown_timeout,
            ),
            mask=mask_phone,
        )

    @property
    def repository(self) -> "InboundMessageRepository":
        """The inbound message store (the helpdesk services' one unless injected)."""
        return self.inbox.repository

    def get_output_channel(self) -> OutputChannel | None:
        return self.output

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until the messages in work are handled (True: nothing is left in work)."""
        return await self.inbox.drain(timeout)

    async def recover_pending(self, on_new_message: OnNewMessage) -> int:
        """Handle again the messages claimed earlier and never finished (`Inbox.recover`)."""
        return await self.inbox.recover(on_new_message)

    # ----------------------------------------------------------------- web

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The webhook routes: `/` (health) and `/webhook` (GET check, POST deliveries)."""
        whatsapp_webhook = Blueprint("whatsapp_webhook", __name__)

        @whatsapp_webhook.listener("after_server_start")
        async def start_recovery(app: Any, loop: Any) -> None:
            self.inbox.start(on_new_message)

        @whatsapp_webhook.listener("before_server_stop")
        async def finish_work(app: Any, loop: Any) -> None:
            await self.inbox.stop()
            await self.output.close()

        add_health_route(whatsapp_webhook)

        @whatsapp_webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            args = {name: request.args.get(name) for name in request.args}
            challenge = verify_subscription(args, self.verify_token)
            if challenge is None:
                logger.warning("whatsapp: webhook verification refused")
                return response.text("forbidden", status=403)
            logger.info("whatsapp: webhook verified")
            return response.text(challenge)

        @whatsapp_webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            body = await read_body(request, BODY_LIMIT)
            if body is None:
                logger.warning("whatsapp: delivery refused: body over %d bytes", BODY_LIMIT)
                return response.json({"status": "payload too large"}, status=413)
            signature = request.headers.get("X-Hub-Signature-256")
            if not verify_signature(self.app_secret, body, signature):
                logger.warning(
                    "whatsapp: delivery refused: %s signature",
                    "invalid" if signature else "missing",
                )
                return response.json({"status": "forbidden"}, status=403)
            payload = json_object(body)
            if payload is None:
                logger.warning("whatsapp: delivery refused: malformed JSON (%d bytes)", len(body))
                return response.json({"status": "bad request"}, status=400)

            batch = parse_webhook(payload, phone_number_id=self.phone_number_id)
            for kind in batch.ignored:
                logger.info("whatsapp: ignored a message of type %s", kind)
            if batch.statuses:
                logger.debug("whatsapp: %d status callbacks acknowledged", batch.statuses)
            accepted = await self.inbox.accept(
                [message.inbound() for message in batch.messages], on_new_message
            )
            status, word = accepted.answer()
            return response.json({"status": word}, status=status)

        return whatsapp_webhook
