"""`WhatsAppOutput`: sends answers through the Graph API, with retries, within WhatsApp's
24-hour customer service window (approved templates after it)."""

from __future__ import annotations

import functools
import logging
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Iterable,
    Mapping,
)

from rasa.core.channels.channel import OutputChannel
from rasa.shared.exceptions import RasaException

from connectors.common import (
    base_url,
    check_retry_settings,
    clean_credential,
    missing_message,
)
from connectors.common.agent_files import FILE_FAILED_NOTICE, AgentFile, with_notice
from connectors.common.meta import DEFAULT_GRAPH_API_URL, GraphClient
from connectors.common.replies import AgentRepliesOnce
from connectors.common.window import Unknown, last_inbound, window_open
from connectors.whatsapp.payloads import CHANNEL_NAME, mask_phone
from connectors.whatsapp.render import (
    MEDIA_UPLOADS,
    PAYLOAD_IDS,
    PayloadIds,
    button_bodies,
    image_body,
    media_bodies,
    template_body,
    text_bodies,
)
from helpdesk import metrics
from helpdesk.conversation.message_templates import (
    NO_TEMPLATES,
    RESPONSE_KEY,
    TEMPLATE_KEY,
    ParameterError,
    TemplateRegistry,
    load_registry,
)
from helpdesk.retry import Backoff, RetryPolicy

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.settings import Settings
    from helpdesk.storage.inbound_messages import InboundMessageRepository

logger = logging.getLogger("connectors.whatsapp")


DEFAULT_API_URL = DEFAULT_GRAPH_API_URL


#: What `WhatsAppSendError.error_code` holds when the window allowed no message.
OUTSIDE_WINDOW = "outside-window"


#: The recipient whose window `send_response` found open (the sends below it skip the check).
_window_open_for: ContextVar[str | None] = ContextVar("whatsapp_window_open_for", default=None)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


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


missing_credentials_message = functools.partial(missing_message, "WhatsApp", "connectors/whatsapp/")


def blank_credentials(**values: Any) -> list[str]:
    """The names of the values that are missing or empty (see `clean_credential`), in order."""
    return [name for name, value in values.items() if not clean_credential(value)]


class WhatsAppOutput(GraphClient, AgentRepliesOnce, OutputChannel):
    """Sends messages through the WhatsApp Cloud API (`POST /{phone_number_id}/messages`).

    Before each message it reads when the citizen last wrote (`inbound_message`). Inside the
    24-hour customer service window a message goes out as it is. After it, free text never
    goes out: a message an approved template stands for (`helpdesk.conversation
    .message_templates`: its `message_template` value or its response name) is sent as that
    template, anything else (an agent's reply too) is not sent, only logged. When the time
    cannot be read, the message is sent and Meta decides.

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
        repository: "InboundMessageRepository" | None = None,
        clock: Callable[[], datetime] = _utcnow,
        templates: TemplateRegistry | None = None,
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
            repository: Where the citizens' last messages are read, and agents' replies
                recorded (default: the helpdesk services' inbound message store).
            clock: The current time (timezone-aware); tests move it.
            templates: The approved templates (default: the file the organisation's profile
                names, read again when it changes).

        Raises:
            WhatsAppConfigError: For a missing token or phone number id.
            ValueError: For a non-positive timeout or attempts, or a negative backoff.
        """
        missing = blank_credentials(access_token=access_token, phone_number_id=phone_number_id)
        if missing:
            raise WhatsAppConfigError(missing_credentials_message(missing))
        check_retry_settings(timeout, attempts, backoff)
        self.access_token = clean_credential(access_token)
        self.phone_number_id = clean_credential(phone_number_id)
        self.api_url = base_url(api_url, DEFAULT_API_URL)
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.retry_policy = RetryPolicy(attempts, Backoff(backoff))
        self.raise_on_failure = raise_on_failure
        self.payload_ids = payload_ids
        self.reply_ledger = repository
        self.clock = clock
        self.templates = templates
        self._init_session()

    @classmethod
    def from_settings(cls, settings: "Settings", **kwargs: Any) -> "WhatsAppOutput":
        """The output channel configured by the helpdesk settings: WHATSAPP_ACCESS_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID and (optional) WHATSAPP_API_URL.

        Args:
            settings: The helpdesk settings (`helpdesk.settings.get_settings()`).
            **kwargs: Passed on to the constructor (timeout, attempts, raise_on_failure, ...).

        Raises:
            WhatsAppConfigError: Naming the variables that are missing or empty.
        """
        token = clean_credential(settings.whatsapp_access_token)
        number = clean_credential(settings.whatsapp_phone_number_id)
        missing = blank_credentials(WHATSAPP_ACCESS_TOKEN=token, WHATSAPP_PHONE_NUMBER_ID=number)
        if missing:
            raise WhatsAppConfigError(
                missing_credentials_message(missing, what="environment variables")
            )
        api_url = clean_credential(settings.whatsapp_api_url) or DEFAULT_API_URL
        return cls(token, number, api_url, **kwargs)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> "WhatsAppOutput":
        """`from_settings` with the settings read from `environ` (default: `.env` and the
        process environment, as every helpdesk process reads them)."""
        from helpdesk.settings import Settings

        return cls.from_settings(Settings.from_env(environ), **kwargs)

    @property
    def messages_url(self) -> str:
        """The Graph API endpoint the messages are posted to."""
        return f"{self.api_url}/{self.phone_number_id}/messages"

    @property
    def media_url(self) -> str:
        """The Graph API endpoint files are uploaded to."""
        return f"{self.api_url}/{self.phone_number_id}/media"

    # ----------------------------------------------------------------- the window

    def template_registry(self) -> TemplateRegistry:
        """The approved templates: the injected ones, else the profile's file (none when it
        cannot be read: nothing then goes out after the window)."""
        if self.templates is not None:
            return self.templates
        try:
            from helpdesk.settings import get_settings

            return load_registry(get_settings().profile.whatsapp_templates_file)
        except Exception as exc:  # a broken file must not stop the answers inside the window
            logger.error("whatsapp: the template registry cannot be read (%s)", exc)
            return NO_TEMPLATES

    async def window_allows_text(self, recipient_id: str) -> bool:
        """Whether free-form messages may go to `recipient_id` now (the 24-hour window is
        open, or when the citizen last wrote cannot be read: Meta then decides)."""
        if _window_open_for.get() == recipient_id:
            return True
        last = await last_inbound(self.reply_ledger, CHANNEL_NAME, recipient_id, logger)
        return isinstance(last, Unknown) or window_open(last, self.clock())

    def _not_sent(self, recipient_id: str, what: str) -> None:
        logger.warning(
            "whatsapp: %s to %s not sent: outside the 24-hour customer service window",
            what,
            mask_phone(recipient_id),
        )
        if self.raise_on_failure:
            raise WhatsAppSendError(None, OUTSIDE_WINDOW)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Send one Rasa message: as it is inside the window, as its approved template after
        it, else not at all."""
        if await self.window_allows_text(recipient_id):
            token = _window_open_for.set(recipient_id)
            try:
                await super().send_response(recipient_id, message)
            finally:
                _window_open_for.reset(token)
            return
        await self.send_template_for(recipient_id, message)

    async def send_template_for(self, recipient_id: str, message: Mapping[str, Any]) -> bool:
        """Send the approved template that stands for `message` (whatever the window).

        Returns:
            True when a template went out; False when none stands for the message (logged:
            outside the window nothing else may go), a value cannot fill it, or the Graph API
            did not accept it.

        Raises:
            WhatsAppSendError: When nothing went out and `raise_on_failure` is set.
        """
        template = self.template_registry().for_message(message)
        if template is None:
            named = message.get(TEMPLATE_KEY) or message.get(RESPONSE_KEY)
            what = f"{named}, for which" if named else "a message for which"
            self._not_sent(recipient_id, f"{what} no approved template stands,")
            return False
        try:
            body = template_body(recipient_id, template, message)
        except ParameterError as exc:  # names the variable, never the value
            logger.error("whatsapp: %s; not sent to %s", exc, mask_phone(recipient_id))
            if self.raise_on_failure:
                raise WhatsAppSendError(None, "template-parameter") from exc
            return False
        if await self.send_body(body):
            metrics.message_out(CHANNEL_NAME)
            logger.info(
                "whatsapp: template %s sent to %s (outside the 24-hour window)",
                template.name,
                mask_phone(recipient_id),
            )
            return True
        return False

    # ----------------------------------------------------------------- sending

    async def send_body(self, body: Mapping[str, Any]) -> bool:
        """Post one Graph API message body, retrying transient failures.

        A free-form body (anything but a template) goes out only inside the window.

        Args:
            body: The message body (`messaging_product`, `to`, `type`, ...).

        Returns:
            True when the Graph API accepted the message.

        Raises:
            WhatsAppSendError: When it was not accepted, or the window allowed none, and
                `raise_on_failure` is set.
        """
        kind = str(body.get("type", "message"))
        to = str(body.get("to", ""))
        if kind != "template" and not await self.window_allows_text(to):
            self._not_sent(to, f"a {kind} message")
            return False
        failure = await self.post_message(
            self.messages_url,
            body,
            kind=kind,
            recipient=mask_phone(to),
            channel=CHANNEL_NAME,
            log=logger,
        )
        if failure is None:
            return True
        if self.raise_on_failure:
            raise WhatsAppSendError(*failure)
        return False

    async def send_bodies(self, bodies: Iterable[Mapping[str, Any]]) -> bool:
        """Post message bodies in order; stops at the first one that is not accepted (or
        that the window does not allow)."""
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
        bodies = await self.payload_ids.call(
            button_bodies, recipient_id, text or "", buttons, payload_ids=self.payload_ids
        )
        await self.send_bodies(bodies)

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

    async def send_agent_file(
        self, recipient_id: str, agent_file: AgentFile, message: dict[str, Any]
    ) -> None:
        """An agent's file: uploaded to the media endpoint, then sent by its media id as an
        image or a document, the reply's text as its caption. Only inside the 24-hour window,
        like every free-form message. A type the Cloud API does not take goes as the text with
        a notice (`AgentRepliesOnce.send_agent_file`); a file the Graph API did not take as
        the text with a notice that it could not be sent."""
        text = str(message.get("text") or "").strip()
        upload = MEDIA_UPLOADS.get(agent_file.content_type)
        if upload is None:
            await super().send_agent_file(recipient_id, agent_file, message)
            return
        if not await self.window_allows_text(recipient_id):
            self._not_sent(recipient_id, "an agent's file")
            return
        upload_type, kind = upload
        answer = await self.upload_file(
            self.media_url,
            {"messaging_product": "whatsapp", "type": upload_type},
            "file",
            AgentFile(agent_file.data, agent_file.filename, upload_type),
            recipient=mask_phone(recipient_id),
            channel=CHANNEL_NAME,
            log=logger,
        )
        media_id = str((answer or {}).get("id") or "")
        if not media_id:
            logger.error(
                "whatsapp: an agent's file to %s was not uploaded", mask_phone(recipient_id)
            )
            notice = with_notice(text, agent_file.filename, FILE_FAILED_NOTICE)
            await self.send_bodies(text_bodies(recipient_id, notice))
            if self.raise_on_failure:
                raise WhatsAppSendError(None, "media-upload")
            return
        await self.send_bodies(
            media_bodies(recipient_id, media_id, kind, agent_file.filename, text)
        )
