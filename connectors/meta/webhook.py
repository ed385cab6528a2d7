"""`MessengerInput` and `InstagramInput`: Meta's webhooks (subscription check, signed
deliveries) over the shared inbox."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import (
    TYPE_CHECKING,
    Any,
)

from rasa.core.channels.channel import InputChannel
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
    mask_id,
    read_credentials,
)
from connectors.common.meta import DEFAULT_GRAPH_API_URL, signed_delivery, subscription_answer
from connectors.inbox import InboxChannel, InboxPolicy
from connectors.meta.output import (
    InstagramOutput,
    MessengerOutput,
    MetaConfigError,
    MetaOutput,
    blank_credentials,
)
from connectors.meta.payloads import INSTAGRAM, MESSENGER, parse_webhook
from connectors.meta.render import QuickReplyIds

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.storage.inbound_messages import InboundMessageRepository


#: A claimed message younger than this may still be in work in another process: not recovered.
RECOVERY_DELAY = timedelta(minutes=1)


#: Unfinished messages older than this are dropped, not answered: the answer would fall
#: outside the 24-hour window.
RECOVERY_MAX_AGE = timedelta(hours=24)


#: Handled message ids are kept this long (Meta re-delivers for days; the 7-day window of an
#: agent's reply is read from them too).
DEDUP_RETENTION = timedelta(days=30)


class MetaInput(InboxChannel):
    """Receives a Meta messaging webhook (see `connectors.meta`); subclassed per platform."""

    output: MetaOutput

    #: The channel name: "messenger" or "instagram".
    channel = ""

    #: The output channel class.
    output_class: type[MetaOutput] = MetaOutput

    #: Credential keys in credentials.yml and the environment variables that fill them.
    required_credentials: dict[str, str] = {}

    optional_credentials: dict[str, str] = {}

    @classmethod
    def name(cls) -> str:
        return cls.channel

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """The channel from its credentials.yml block.

        Raises:
            MetaConfigError: Naming every required credential that is missing or empty.
        """
        values, missing = read_credentials(
            credentials, cls.required_credentials, cls.optional_credentials, env_name_keys=True
        )
        if missing:
            raise MetaConfigError(cls.output_class.missing_message(missing))
        return cls(
            access_token=values["access_token"],
            app_secret=values["app_secret"],
            verify_token=values["verify_token"],
            account_id=values.get("account_id") or values.get("page_id") or "",
            api_url=values["api_url"] or DEFAULT_GRAPH_API_URL,
        )

    def __init__(
        self,
        access_token: str,
        app_secret: str,
        verify_token: str,
        *,
        account_id: str = "",
        api_url: str = DEFAULT_GRAPH_API_URL,
        repository: "InboundMessageRepository" | None = None,
        payload_store: PayloadStore | None = None,
        output: MetaOutput | None = None,
        recovery_delay: timedelta = RECOVERY_DELAY,
        shutdown_timeout: float = 10.0,
    ) -> None:
        """Create the input channel.

        Args:
            access_token: The token the answers are sent with.
            app_secret: The Meta app secret that signs the deliveries.
            verify_token: The token Meta's subscription check must present.
            account_id: This assistant's page id or Instagram account id: events for another
                one are left out, and Instagram answers are posted to its endpoint ("": all
                events are taken, answers go to `/me/messages`).
            api_url: The Graph API base URL (with version).
            repository: Where message ids are claimed (default: the helpdesk services' one).
            payload_store: Where long quick-reply payloads are kept for every process
                (default: the helpdesk database when the channel makes its own output).
            output: The output channel of the answers (default: one from these credentials).
            recovery_delay: How long ago an unfinished message must have been claimed to be
                handled again at start.
            shutdown_timeout: Seconds the server waits, when stopping, for messages in work.

        Raises:
            MetaConfigError: For a missing credential.
        """
        missing = blank_credentials(
            access_token=access_token, app_secret=app_secret, verify_token=verify_token
        )
        if missing:
            raise MetaConfigError(self.output_class.missing_message(missing))
        self.app_secret = clean_credential(app_secret)
        self.verify_token = clean_credential(verify_token)
        self.account_id = clean_credential(account_id)
        self.api_url = base_url(api_url, DEFAULT_GRAPH_API_URL)
        self.log = logging.getLogger(f"connectors.{self.channel}")
        output = output or self.output_class(
            clean_credential(access_token),
            self.account_id or "me",
            self.api_url,
            payload_ids=QuickReplyIds(store=payload_store or ServicesPayloadStore()),
        )
        if payload_store is not None:
            output.payload_ids.attach(payload_store)
        self.open_inbox(  # the window is read from the reply ledger, beside the claims
            output,
            log=self.log,
            repository=repository,
            policy=InboxPolicy(
                recovery_delay=recovery_delay,
                max_age=RECOVERY_MAX_AGE,
                retention=DEDUP_RETENTION,
                shutdown_timeout=shutdown_timeout,
            ),
            mask=mask_id,
        )

    # ----------------------------------------------------------------- web

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The webhook routes: `/` (health) and `/webhook` (GET check, POST deliveries)."""
        webhook = Blueprint(f"{self.channel}_webhook", __name__)
        self.add_inbox_listeners(webhook, on_new_message)
        add_health_route(webhook)

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return subscription_answer(request, self.verify_token, self.channel, self.log)

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            payload = await signed_delivery(request, self.app_secret, self.channel, self.log)
            if isinstance(payload, HTTPResponse):
                return payload
            payload_ids = self.output.payload_ids
            batch = await payload_ids.call(
                parse_webhook,
                payload,
                self.channel,
                account_id=self.account_id or None,
                payload_ids=payload_ids,
            )
            for kind in batch.ignored:
                self.log.info("%s: ignored an event of kind %s", self.channel, kind)
            accepted = await self.inbox.accept(list(batch.messages), on_new_message)
            status, word = accepted.answer()
            return response.json({"status": word}, status=status)

        return webhook


class MessengerInput(MetaInput):
    """Facebook Messenger: `/webhooks/messenger/webhook` (see `connectors.meta`)."""

    channel = MESSENGER
    output_class = MessengerOutput
    required_credentials = {
        "access_token": "MESSENGER_PAGE_ACCESS_TOKEN",
        "app_secret": "MESSENGER_APP_SECRET",
        "verify_token": "MESSENGER_VERIFY_TOKEN",
    }
    optional_credentials = {"page_id": "MESSENGER_PAGE_ID", "api_url": "MESSENGER_API_URL"}


class InstagramInput(MetaInput):
    """Instagram Messaging: `/webhooks/instagram/webhook` (see `connectors.meta`)."""

    channel = INSTAGRAM
    output_class = InstagramOutput
    required_credentials = {
        "access_token": "INSTAGRAM_ACCESS_TOKEN",
        "account_id": "INSTAGRAM_ACCOUNT_ID",
        "app_secret": "INSTAGRAM_APP_SECRET",
        "verify_token": "INSTAGRAM_VERIFY_TOKEN",
    }
    optional_credentials = {"api_url": "INSTAGRAM_API_URL"}
