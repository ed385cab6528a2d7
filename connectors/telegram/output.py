"""`TelegramOutput`: sends answers through the Bot API (aiogram 2), with retries."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
from typing import TYPE_CHECKING, Any, Awaitable

import aiohttp
from aiogram.bot.api import TelegramAPIServer
from aiogram.types import InputFile
from aiogram.utils import exceptions as tg_errors
from rasa.core.channels.telegram import TelegramOutput as RasaTelegramOutput
from rasa.shared.exceptions import RasaException

from connectors.common import (
    base_url,
    check_retry_settings,
    clean_credential,
    mask_id,
    missing_message,
)
from connectors.common.agent_files import AgentFile
from connectors.common.replies import AgentRepliesOnce
from connectors.telegram.render import CALLBACK_DATA, CallbackData, button_messages, split_text
from helpdesk.retry import Backoff, Decision, Failure, RetryPolicy, acall

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    pass


logger = logging.getLogger("connectors.telegram")


DEFAULT_API_URL = "https://api.telegram.org"


#: The update types the webhook asks Telegram for.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")


#: Flood control asking to wait longer than this (seconds) is not waited for.
MAX_RETRY_AFTER = 10.0

#: The longest caption of a photo or a document.
CAPTION_LIMIT = 1024


class TelegramConfigError(RasaException):
    """The Telegram channel is missing credentials or has invalid ones."""


missing_credentials_message = functools.partial(missing_message, "Telegram", "connectors/telegram/")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _may_retry(error: Exception) -> Decision:
    """Flood control with Telegram's own pause (when short), network errors and timeouts."""
    if isinstance(error, tg_errors.RetryAfter):
        return float(error.timeout) if error.timeout <= MAX_RETRY_AFTER else False
    return isinstance(
        error, (tg_errors.NetworkError, tg_errors.RestartingTelegram, asyncio.TimeoutError)
    )


class TelegramOutput(AgentRepliesOnce, RasaTelegramOutput):
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
            raise TelegramConfigError(
                missing_credentials_message(["access_token (TELEGRAM_ACCESS_TOKEN)"])
            )
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
        self.retry_policy = RetryPolicy(attempts, Backoff(backoff))
        #: An upload stream is read once: uploads are tried once.
        self.upload_policy = RetryPolicy(1, Backoff(backoff))
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

        def on_failure(failure: Failure) -> None:
            if failure.giving_up:
                return  # the caller reports it
            error = failure.error
            reason = (
                "flood control"
                if isinstance(error, tg_errors.RetryAfter)
                else "timeout"
                if isinstance(error, asyncio.TimeoutError)
                else type(error).__name__
            )
            logger.warning(
                "telegram: %s failed (%s; attempt %d of %d); retrying",
                method,
                reason,
                failure.attempt,
                self.attempts,
            )

        policy = self.retry_policy if not files else self.upload_policy
        try:
            return await acall(
                lambda: super(TelegramOutput, self).request(method, data, files, **kwargs),
                policy,
                retry_on=_may_retry,
                on_failure=on_failure,
            )
        except asyncio.TimeoutError:
            raise tg_errors.NetworkError(f"{method} timed out") from None

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
        messages = await self.callback_data.call(
            button_messages, text or "", buttons, button_type, callback_data=self.callback_data
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

    async def send_agent_file(
        self, recipient_id: str, agent_file: AgentFile, message: dict[str, Any]
    ) -> None:
        """An agent's file, uploaded: a JPEG or PNG with `sendPhoto`, anything else with
        `sendDocument`; the reply's text as its caption, or first as a message of its own
        when it is longer than a caption may be."""
        text = str(message.get("text") or "").strip()
        caption = text if len(text) <= CAPTION_LIMIT else None
        if text and caption is None:
            await self.send_text_message(recipient_id, text)
        upload = InputFile(io.BytesIO(agent_file.data), filename=agent_file.filename)
        if agent_file.is_photo:
            call = self.send_photo(recipient_id, upload, caption=caption or None)
        else:
            call = self.send_document(recipient_id, upload, caption=caption or None)
        await self._deliver("photo" if agent_file.is_photo else "document", recipient_id, call)
