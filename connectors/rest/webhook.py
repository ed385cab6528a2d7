"""`RestInput`: the integrators' REST API (bearer token, or loopback only)."""

from __future__ import annotations

import asyncio
import json
import logging
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
    failure_trace,
    mask_id,
    read_body,
)
from connectors.rest.payloads import (
    BODY_LIMIT,
    CHANNEL_NAME,
    RestMessage,
    RestRequestError,
    parse_body,
)
from helpdesk import metrics
from helpdesk.security.access import bearer_token, is_loopback, token_matches

logger = logging.getLogger("connectors.rest")


#: The environment variable of the token (read through `helpdesk.settings`).
AUTH_ENV_NAME = "HELPDESK_REST_TOKEN"


class RestConfigError(RasaException):
    """The `connectors.rest.RestInput` credentials are invalid."""


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
        metrics.message_in(CHANNEL_NAME)
        try:
            await on_new_message(self._user_message(message, collector))
        except asyncio.CancelledError:
            logger.error("rest: handling a message from %s was cancelled (timeout)", sender)
            raise
        except Exception as error:
            log_failure(f"handling a message from {sender}", error)
            return _error(503, "unavailable", "the assistant could not answer, try again later")
        for _ in collector.messages:
            metrics.message_out(CHANNEL_NAME)
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
