"""`TelegramInput`: Telegram's webhook and its registration, over the shared inbox."""

from __future__ import annotations

import hmac
import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Mapping

from rasa.core.channels.telegram import TelegramInput as RasaTelegramInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import (
    OnNewMessage,
    PayloadStore,
    ServicesPayloadStore,
    add_health_route,
    base_url,
    clean_credential,
    json_object,
    mask_id,
    missing_credentials,
    read_body,
    read_credentials,
)
from connectors.inbox import Inbound, InboxChannel, InboxPolicy
from connectors.telegram.output import (
    DEFAULT_API_URL,
    TelegramConfigError,
    TelegramOutput,
    missing_credentials_message,
)
from connectors.telegram.payloads import CHANNEL_NAME, TelegramMessage, parse_update
from connectors.telegram.render import CallbackData

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.storage.inbound_messages import InboundMessageRepository


logger = logging.getLogger("connectors.telegram")


SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


#: The largest update body read (bytes); larger ones get 413 unread. An update is one message
#: of at most 4096 characters (with the message it replies to, entities and a quote: tens of
#: KB at most), so this refuses only what Telegram never sends.
BODY_LIMIT = 256 * 1024


#: A re-delivered update whose handling started longer ago than this is handled again.
RECLAIM_AFTER = timedelta(minutes=1)


#: Credential keys in credentials.yml and the environment variables that fill them.
REQUIRED_CREDENTIALS = {
    "access_token": "TELEGRAM_ACCESS_TOKEN",
    "verify": "TELEGRAM_BOT_NAME",
    "webhook_url": "TELEGRAM_WEBHOOK_URL",
}


OPTIONAL_CREDENTIALS = {"secret_token": "TELEGRAM_SECRET_TOKEN", "api_url": "TELEGRAM_API_URL"}


_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


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


class TelegramInput(InboxChannel, RasaTelegramInput):
    """Receives Telegram's webhook (see the module docstring)."""

    output: TelegramOutput

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
            raise TelegramConfigError(missing_credentials_message(missing))
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
        payload_store: PayloadStore | None = None,
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
            payload_store: Where long button payloads are kept for every process (default:
                the helpdesk database when the channel makes its own output channel).
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
            raise TelegramConfigError(missing_credentials_message(missing))
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
        output = output or TelegramOutput(
            self.access_token,
            self.api_url,
            callback_data=CallbackData(store=payload_store or ServicesPayloadStore()),
        )
        if payload_store is not None:
            output.callback_data.attach(payload_store)
        self.reclaim_after = reclaim_after
        self.register_at_start = register_at_start
        self._api_token = api_token
        self.open_inbox(
            output,
            log=logger,
            repository=repository,
            policy=InboxPolicy(recovery_delay=reclaim_after, shutdown_timeout=shutdown_timeout),
            noun="update",
            mask=mask_id,
        )
        if self.secret_token is None:
            logger.warning(
                "telegram: no secret_token (TELEGRAM_SECRET_TOKEN): anyone who knows the "
                "webhook URL can post updates"
            )

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
        callback_data = self.output.callback_data
        parsed = await callback_data.call(
            parse_update, payload, bot_name=self.bot_name, callback_data=callback_data
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
        register = self._register_at_start if self.register_at_start else None
        self.add_inbox_listeners(telegram_webhook, on_new_message, background=register)
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
