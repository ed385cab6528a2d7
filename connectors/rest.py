"""The REST channel: an integrators' API, authenticated, strict about its input.

Same URL, request and reply as Rasa's `rest` channel, which it replaces in `credentials.yml`::

    connectors.rest.RestInput:

`POST /webhooks/rest/webhook` with `{"sender": "...", "message": "...", "metadata": {...}}`
answers the bot's messages as a JSON list (`?stream=true`: one JSON message a line);
`GET /webhooks/rest/` is the health route. The channel's name stays "rest", so Rasa records
`input_channel: rest` for its messages.

What it adds to Rasa's channel:

* **Who may call.** With `HELPDESK_REST_TOKEN` set, every request must carry
  `Authorization: Bearer <token>` (401 otherwise). Without it, only clients on the loopback
  interface are answered (403 for others): a development default. Behind a reverse proxy every
  request comes from the proxy's address, so set the token there.
* **Input.** A body over `BODY_LIMIT` bytes is refused with 413 before it is read. Malformed
  input gets 400 with a JSON error, never a 5xx: a body that is not a JSON object, a missing or
  non-string `sender` or `message`, a sender over `SENDER_LIMIT` characters or with control
  characters, NUL characters or lone surrogates anywhere, an `input_channel` other than "rest"
  (Rasa's channel let a caller claim to be WhatsApp), and `metadata` that is not an object or
  is over `METADATA_LIMIT` bytes. Of the metadata only scalars and objects of scalars are kept,
  their strings capped (`connectors.common.cap_metadata`); `channel` is always "rest". As on
  every channel, the text handed to Rasa is cleaned of control characters and cut at
  `connectors.common.MESSAGE_TEXT_LIMIT` characters (`cap_text`).
* **One channel per conversation.** A sender id whose conversation began on another channel
  (a WhatsApp citizen's phone number, a web chat session) is refused with 409: nothing is added
  to that conversation (`connectors.common.ConversationGuard`).
* **Logs** name senders masked (last four characters) and never hold message text.

Errors are JSON objects `{"error": "<code>", "message": "<English text>"}`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import QueueOutputChannel
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import (
    ConversationGuard,
    OnNewMessage,
    add_health_route,
    cap_metadata,
    cap_text,
    failure_trace,
    mask_id,
    read_body,
)

logger = logging.getLogger(__name__)

#: The channel name: URL prefix `/webhooks/rest`, `input_channel` of its messages.
CHANNEL_NAME = "rest"
#: The largest request body accepted (bytes); larger ones get 413 unread.
BODY_LIMIT = 64 * 1024
#: The longest sender id (characters); Rasa's tracker store keeps 255.
SENDER_LIMIT = 128
#: The largest `metadata` accepted, as compact JSON (bytes).
METADATA_LIMIT = 4 * 1024
#: The environment variable of the token (read through `helpdesk.settings`).
AUTH_ENV_NAME = "HELPDESK_REST_TOKEN"

_SCALARS = (str, int, float, bool, type(None))


class RestConfigError(RasaException):
    """The `connectors.rest.RestInput` credentials are invalid."""


class RestRequestError(ValueError):
    """A request the channel refuses: its HTTP status, error code and English message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RestMessage:
    """A valid request: who writes, what, and the metadata kept for Rasa."""

    sender: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- pure checks


def _bad(code: str, message: str) -> RestRequestError:
    return RestRequestError(400, code, message)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_clean(text: str) -> bool:
    """No NUL character and no lone surrogate (neither survives storage or logging)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _all_clean(value: Any) -> bool:
    """`_is_clean` for every string (keys too) in a parsed JSON value (depth-limited by the
    parser and the body limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _is_clean(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _is_scalar(value: Any) -> bool:
    return isinstance(value, _SCALARS) and not (isinstance(value, float) and math.isinf(value))


def clean_metadata(value: Any) -> dict[str, Any]:
    """The metadata Rasa gets from a request's `metadata`.

    Keeps entries whose value is a scalar or an object of scalars (lists and deeper objects are
    left out) and sets `channel` to "rest" (the caller does not choose it).

    Raises:
        RestRequestError: 400 when `metadata` is neither absent, null nor an object, or is
            over `METADATA_LIMIT` bytes as JSON.
    """
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _bad("invalid_metadata", "metadata must be a JSON object")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > METADATA_LIMIT:
        raise _bad("metadata_too_large", f"metadata must be at most {METADATA_LIMIT} bytes")
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if _is_scalar(item):
            kept[key] = item
        elif isinstance(item, dict) and all(_is_scalar(v) for v in item.values()):
            kept[key] = dict(item)
    kept = cap_metadata(kept)
    kept["channel"] = CHANNEL_NAME
    return kept


def parse_body(body: bytes) -> RestMessage:
    """A request body as a `RestMessage`.

    Raises:
        RestRequestError: 400 for anything but a JSON object with a valid string `sender`
            and `message` (see the module docstring).
    """
    if not body or not body.strip():
        raise _bad("empty_body", "the body must be a JSON object with sender and message")
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _bad("invalid_json", "the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise _bad("invalid_json", "the body must be a JSON object with sender and message")
    if not _all_clean(payload):
        raise _bad("invalid_characters", "the body holds NUL characters or unpaired surrogates")
    sender, text = payload.get("sender"), payload.get("message")
    if not isinstance(sender, str) or not sender.strip():
        raise _bad("invalid_sender", "sender must be a non-empty string")
    if len(sender) > SENDER_LIMIT:
        raise _bad("invalid_sender", f"sender must be at most {SENDER_LIMIT} characters")
    if not sender.isprintable():
        raise _bad("invalid_sender", "sender must not hold control characters or line breaks")
    if not isinstance(text, str):
        raise _bad("invalid_message", "message must be a string")
    channel = payload.get("input_channel")
    if channel is not None and channel != CHANNEL_NAME:
        raise _bad("invalid_input_channel", "input_channel cannot be set on this channel")
    return RestMessage(sender, cap_text(text), clean_metadata(payload.get("metadata")))


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for any other header."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def token_matches(given: str | None, expected: str) -> bool:
    """Whether `given` is `expected`, compared in constant time (False when either is empty)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def is_loopback(ip: str | None) -> bool:
    """Whether a client address is on the loopback interface (127.0.0.0/8, ::1, and
    IPv4-mapped 127.x); False for anything unparsable, an empty address included."""
    try:
        address = ipaddress.ip_address((ip or "").strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


# --------------------------------------------------------------------------- the channel


def _error(status: int, code: str, message: str, **headers: str) -> HTTPResponse:
    return response.json({"error": code, "message": message}, status=status, headers=headers)


class RestInput(RasaRestInput):
    """Rasa's REST channel with authentication, input checks and one channel per
    conversation (see the module docstring).

    Args:
        token: The bearer token callers must send; "" answers loopback clients only.
        body_limit: The largest request body (bytes).
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> "RestInput":
        """The channel with the token of `HELPDESK_REST_TOKEN` (`helpdesk.settings`).

        Raises:
            RestConfigError: When the block has any key: the token is a secret and belongs in
                the environment, not in credentials.yml.
        """
        if credentials:
            raise RestConfigError(
                f"connectors.rest.RestInput takes no credentials ({', '.join(sorted(credentials))}"
                f" given): set the token in the environment as {AUTH_ENV_NAME}"
            )
        from helpdesk.settings import get_settings

        return cls(token=get_settings().rest_token)

    def __init__(self, token: str = "", body_limit: int = BODY_LIMIT) -> None:
        if body_limit <= 0:
            raise ValueError("body_limit must be > 0")
        self.token = token
        self.body_limit = body_limit
        self.guard = ConversationGuard(CHANNEL_NAME)

    # ----------------------------------------------------------------- refusals

    def refusal(self, request: Request) -> HTTPResponse | None:
        """401/403 for a caller the channel does not answer, else None."""
        if self.token:
            if token_matches(bearer_token(request.headers.get("Authorization")), self.token):
                return None
            logger.warning("rest: request from %s refused: no valid bearer token", request.ip)
            return _error(
                401,
                "unauthorized",
                "send the REST token as Authorization: Bearer <token>",
                **{"WWW-Authenticate": 'Bearer realm="rest"'},
            )
        if is_loopback(request.ip):
            return None
        logger.warning(
            "rest: request from %s refused: without %s only loopback clients are answered",
            request.ip,
            AUTH_ENV_NAME,
        )
        return _error(
            403,
            "forbidden",
            f"this REST channel answers only local clients: set {AUTH_ENV_NAME} on the "
            "server and send it as Authorization: Bearer <token>",
        )

    # ----------------------------------------------------------------- routes

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The health route `/` and the webhook `/webhook` (POST, body read as a stream)."""
        rest_webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        add_health_route(rest_webhook)

        @rest_webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> Any:
            refused = self.refusal(request)
            if refused is not None:
                # Do not read an unwanted body: Sanic closes the connection instead.
                if request.stream is not None:
                    request.stream.request_max_size = self.body_limit
                return refused
            body = await read_body(request, self.body_limit)
            if body is None:
                logger.warning("rest: request refused: body over %d bytes", self.body_limit)
                return _error(
                    413, "body_too_large", f"the body must be at most {self.body_limit} bytes"
                )
            try:
                message = parse_body(body)
            except RestRequestError as error:
                return _error(error.status, error.code, error.message)
            return await self._answer(request, message, on_new_message)

        return rest_webhook

    async def _answer(
        self, request: Request, message: RestMessage, on_new_message: OnNewMessage
    ) -> Any:
        """Hand a valid message to Rasa (unless another channel owns the conversation) and
        answer its replies."""
        sender = mask_id(message.sender)
        try:
            other = await self.guard.other_channel(message.sender, request.app)
        except Exception as error:  # the tracker store: the message must not pass unchecked
            log_failure(f"checking the conversation of {sender}", error)
            return _error(503, "unavailable", "the assistant is unavailable, try again later")
        if other is not None:
            logger.warning(
                "rest: message from %s refused: the conversation belongs to the %s channel",
                sender,
                other,
            )
            return _error(
                409,
                "sender_in_use",
                "this sender id is a conversation of another channel: use sender ids of your own",
            )

        if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
            return response.stream(
                self._stream(on_new_message, message), content_type="text/event-stream"
            )
        collector = CollectingOutputChannel()
        try:
            await on_new_message(self._user_message(message, collector))
        except asyncio.CancelledError:
            logger.error("rest: handling a message from %s was cancelled (timeout)", sender)
            raise
        except Exception as error:
            log_failure(f"handling a message from {sender}", error)
            return _error(503, "unavailable", "the assistant could not answer, try again later")
        return response.json(collector.messages)

    def _user_message(self, message: RestMessage, output: CollectingOutputChannel) -> UserMessage:
        return UserMessage(
            message.text,
            output,
            message.sender,
            input_channel=CHANNEL_NAME,
            metadata=dict(message.metadata),
        )

    def _stream(self, on_new_message: OnNewMessage, message: RestMessage) -> Any:
        """Rasa's streaming answer (one JSON message a line), ending also when handling
        fails."""

        async def stream(resp: Any) -> None:
            queue: asyncio.Queue = asyncio.Queue()
            done = object()

            async def handle() -> None:
                try:
                    await on_new_message(self._user_message(message, QueueOutputChannel(queue)))
                except Exception as error:
                    log_failure(f"handling a message from {mask_id(message.sender)}", error)
                finally:
                    await queue.put(done)

            task = asyncio.ensure_future(handle())
            while (item := await queue.get()) is not done:
                await resp.write(json.dumps(item) + "\n")
            await task

        return stream


def log_failure(what: str, error: BaseException) -> None:
    """Log a failure with the exception's type and frames, never its message (it may quote
    the user's text: a NIK, an e-mail address)."""
    logger.error("rest: %s failed: %s", what, failure_trace(error))
