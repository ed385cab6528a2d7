"""`MessengerOutput` and `InstagramOutput`: answers through Meta's Send API, with retries,
within the messaging window."""

from __future__ import annotations

import json
import logging
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
    mask_id,
    missing_message,
)
from connectors.common.agent_files import FILE_FAILED_NOTICE, AgentFile, with_notice
from connectors.common.meta import DEFAULT_GRAPH_API_URL, GraphClient
from connectors.common.replies import AGENT_REPLY_KEY, AgentRepliesOnce
from connectors.common.text import ShortIds
from connectors.common.window import RESPONSE, SendMode, Unknown, last_inbound, send_mode
from connectors.meta.payloads import INSTAGRAM, MESSENGER
from connectors.meta.render import (
    PAYLOAD_IDS,
    attachment_kind,
    button_messages,
    envelope,
    image_message,
    text_messages,
    upload_message,
    uploaded_message,
)
from helpdesk.retry import Backoff, RetryPolicy

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.storage.inbound_messages import InboundMessageRepository


#: What Meta's answer names when a message was held back for the messaging window.
OUTSIDE_WINDOW = "outside-window"


class MetaConfigError(RasaException):
    """A Messenger or Instagram channel is missing credentials."""


class MetaSendError(Exception):
    """The Send API did not accept a message, or the window allowed none (raised only when
    asked to). The message names the HTTP status and Meta's error code, never the content."""

    def __init__(self, channel: str, status: int | None, error_code: Any = None) -> None:
        self.channel = channel
        self.status = status
        self.error_code = error_code
        super().__init__(f"{channel} send failed (HTTP {status}, error code {error_code})")


def blank_credentials(**values: Any) -> list[str]:
    """The names of the values that are missing or empty (see `clean_credential`), in order."""
    return [name for name, value in values.items() if not clean_credential(value)]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class MetaOutput(GraphClient, AgentRepliesOnce, OutputChannel):
    """Sends messages through Meta's Send API (`POST {api_url}/{account}/messages`).

    Before each message it reads when the citizen last wrote (`inbound_message`): inside the
    24-hour window a message goes out as a `RESPONSE`; after it, an agent's reply (a message
    with `handoff_message_id`, from the desk) goes out tagged `HUMAN_AGENT` for up to 7 days
    and anything else is not sent, only logged (see `connectors.meta.window`). When the time
    cannot be read, the message is sent as a response and Meta decides.

    Connection errors, timeouts, HTTP 429 and 5xx are retried with exponential backoff; other
    4xx are not. A message that could not be sent is logged (HTTP status and Meta's error code,
    never the content; the recipient masked) and, unless `raise_on_failure` is set, the
    conversation goes on.
    """

    #: The channel name (`name()`): "messenger" or "instagram".
    channel = ""

    #: The channel's name for people, in errors.
    label = ""

    #: Whether the channel uploads agents' files (`/message_attachments`); without it the
    #: citizen gets the text with a notice (files without a public URL cannot be sent).
    uploads_files = False

    @classmethod
    def name(cls) -> str:
        return cls.channel

    def __init__(
        self,
        access_token: str,
        account_id: str = "me",
        api_url: str = DEFAULT_GRAPH_API_URL,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        raise_on_failure: bool = False,
        payload_ids: ShortIds = PAYLOAD_IDS,
        repository: "InboundMessageRepository" | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Create the output channel.

        Args:
            access_token: The page access token (Messenger) or Instagram access token.
            account_id: Whose messages endpoint is posted to: "me" (the token's page or
                account) or the Instagram account id.
            api_url: The Graph API base URL (with version).
            timeout: Seconds before one HTTP attempt is given up.
            attempts: Attempts per message in total (>= 1).
            backoff: The first pause between attempts in seconds; it doubles each time.
            raise_on_failure: Raise `MetaSendError` when a message is not sent.
            payload_ids: The mapping of long quick-reply payloads.
            repository: Where the citizens' last messages are read, and agents' replies
                recorded (default: the helpdesk services' inbound message store).
            clock: The current time (timezone-aware); tests move it.

        Raises:
            MetaConfigError: For a missing token.
            ValueError: For a non-positive timeout or attempts, or a negative backoff.
        """
        missing = blank_credentials(access_token=access_token)
        if missing:
            raise MetaConfigError(self.missing_message(missing))
        check_retry_settings(timeout, attempts, backoff)
        self.access_token = clean_credential(access_token)
        self.account_id = clean_credential(account_id) or "me"
        self.api_url = base_url(api_url, DEFAULT_GRAPH_API_URL)
        self.timeout = timeout
        self.attempts = attempts
        self.retry_policy = RetryPolicy(attempts, Backoff(backoff))
        self.raise_on_failure = raise_on_failure
        self.payload_ids = payload_ids
        self.reply_ledger = repository
        self.clock = clock
        self._log = logging.getLogger(f"connectors.{self.channel}")
        self._init_session()

    @classmethod
    def missing_message(cls, missing: Iterable[str]) -> str:
        """The error naming the missing credentials."""
        return missing_message(cls.label, "connectors/meta/", missing)

    @property
    def messages_url(self) -> str:
        """The Send API endpoint the messages are posted to."""
        return f"{self.api_url}/{self.account_id}/messages"

    @property
    def attachments_url(self) -> str:
        """The Attachment Upload API endpoint agents' files are uploaded to."""
        return f"{self.api_url}/{self.account_id}/message_attachments"

    # ----------------------------------------------------------------- the window

    async def mode_for(self, recipient_id: str, *, agent_reply: bool) -> SendMode | None:
        """How a message to `recipient_id` may go out now (None: not at all)."""
        last = await last_inbound(self.reply_ledger, self.channel, recipient_id, self._log)
        if isinstance(last, Unknown):
            return RESPONSE
        return send_mode(last, self.clock(), agent_reply=agent_reply)

    async def send_messages(
        self, recipient_id: str, messages: Iterable[Mapping[str, Any]], *, agent_reply: bool
    ) -> bool:
        """Send `message` objects in order, the way the window allows; stops at the first one
        that is not accepted.

        Returns:
            True when every one was accepted.

        Raises:
            MetaSendError: When one was not sent and `raise_on_failure` is set.
        """
        messages = list(messages)
        if not messages:
            return True
        mode = await self.mode_for(recipient_id, agent_reply=agent_reply)
        if mode is None:
            self._log.warning(
                "%s: %d message(s) to %s not sent: outside the messaging window%s",
                self.channel,
                len(messages),
                mask_id(recipient_id),
                "" if agent_reply else " (only an agent's reply may go out after 24 hours)",
            )
            if self.raise_on_failure:
                raise MetaSendError(self.channel, None, OUTSIDE_WINDOW)
            return False
        for message in messages:
            if not await self.send_body(envelope(recipient_id, message, mode)):
                return False
        return True

    # ----------------------------------------------------------------- sending

    async def send_body(self, body: Mapping[str, Any]) -> bool:
        """Post one Send API body, retrying transient failures.

        Returns:
            True when the Send API accepted the message.

        Raises:
            MetaSendError: When it was not accepted and `raise_on_failure` is set.
        """
        failure = await self.post_message(
            self.messages_url,
            body,
            kind="attachment" if "attachment" in (body.get("message") or {}) else "text",
            recipient=mask_id(str((body.get("recipient") or {}).get("id", ""))),
            channel=self.channel,
            log=self._log,
        )
        if failure is None:
            return True
        if self.raise_on_failure:
            raise MetaSendError(self.channel, *failure)
        return False

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Send a text, split into several messages beyond 2000 characters."""
        await self.send_messages(
            recipient_id, text_messages(text), agent_reply=AGENT_REPLY_KEY in kwargs
        )

    async def send_text_with_buttons(
        self,
        recipient_id: str,
        text: str,
        buttons: list[dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        """Send a text with quick replies (numbered choices beyond 13)."""
        messages = await self.payload_ids.call(
            button_messages, text or "", buttons, payload_ids=self.payload_ids
        )
        await self.send_messages(recipient_id, messages, agent_reply=AGENT_REPLY_KEY in kwargs)

    async def send_quick_replies(
        self,
        recipient_id: str,
        text: str,
        quick_replies: list[dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        """Rasa's quick replies are buttons here."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """Send the image at a public URL."""
        await self.send_messages(
            recipient_id, [image_message(image)], agent_reply=AGENT_REPLY_KEY in kwargs
        )

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """Send a Send API `message` object as given (e.g. a template attachment)."""
        await self.send_messages(
            recipient_id, [dict(json_message)], agent_reply=AGENT_REPLY_KEY in kwargs
        )

    async def send_agent_file(
        self, recipient_id: str, agent_file: AgentFile, message: dict[str, Any]
    ) -> None:
        """An agent's file: uploaded (`/message_attachments`), then the reply's text and the
        file by its attachment id, the way the window allows an agent's reply (tagged
        `HUMAN_AGENT` after 24 hours, up to 7 days; nothing, not even the upload, after).
        Instagram sends the text with a notice (`AgentRepliesOnce.send_agent_file`)."""
        if not self.uploads_files:
            await super().send_agent_file(recipient_id, agent_file, message)
            return
        text = str(message.get("text") or "").strip()
        if await self.mode_for(recipient_id, agent_reply=True) is None:
            self._log.warning(
                "%s: an agent's file to %s not sent: outside the messaging window",
                self.channel,
                mask_id(recipient_id),
            )
            if self.raise_on_failure:
                raise MetaSendError(self.channel, None, OUTSIDE_WINDOW)
            return
        kind = attachment_kind(agent_file.content_type)
        answer = await self.upload_file(
            self.attachments_url,
            {"message": json.dumps(upload_message(kind))},
            "filedata",
            agent_file,
            recipient=mask_id(recipient_id),
            channel=self.channel,
            log=self._log,
        )
        attachment_id = str((answer or {}).get("attachment_id") or "")
        if not attachment_id:
            self._log.error(
                "%s: an agent's file to %s was not uploaded", self.channel, mask_id(recipient_id)
            )
            notice = with_notice(text, agent_file.filename, FILE_FAILED_NOTICE)
            await self.send_messages(recipient_id, text_messages(notice), agent_reply=True)
            if self.raise_on_failure:
                raise MetaSendError(self.channel, None, "attachment-upload")
            return
        messages = [*(text_messages(text) if text else []), uploaded_message(kind, attachment_id)]
        await self.send_messages(recipient_id, messages, agent_reply=True)


class MessengerOutput(MetaOutput):
    """Sends messages to Facebook Messenger users (page access token, `/me/messages`)."""

    channel = MESSENGER
    label = "Messenger"
    uploads_files = True


class InstagramOutput(MetaOutput):
    """Sends messages to Instagram users (`/{instagram_account_id}/messages`); Instagram takes
    attachments by public URL only, so an agent's file reaches the citizen as a notice."""

    channel = INSTAGRAM
    label = "Instagram"
