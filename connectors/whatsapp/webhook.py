"""`WhatsAppInput`: Meta's webhook (subscription check, signed deliveries) over the shared inbox."""

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
    read_credentials,
)
from connectors.common.meta import (
    BODY_LIMIT,
    signed_delivery,
    subscription_answer,
    verify_signature,
    verify_subscription,
)
from connectors.inbox import InboxChannel, InboxPolicy
from connectors.whatsapp.output import (
    DEFAULT_API_URL,
    WhatsAppConfigError,
    WhatsAppOutput,
    blank_credentials,
    missing_credentials_message,
)
from connectors.whatsapp.payloads import CHANNEL_NAME, mask_phone, parse_webhook
from connectors.whatsapp.render import PayloadIds
from connectors.whatsapp.statuses import record_statuses

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.storage.inbound_messages import InboundMessageRepository


__all__ = [
    "BODY_LIMIT",
    "REQUIRED_CREDENTIALS",
    "WhatsAppInput",
    "verify_signature",
    "verify_subscription",
]


logger = logging.getLogger("connectors.whatsapp")


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


class WhatsAppInput(InboxChannel):
    """Receives Meta's WhatsApp Cloud API webhook (see the module docstring)."""

    output: WhatsAppOutput

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
            raise WhatsAppConfigError(missing_credentials_message(missing))
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
        payload_store: PayloadStore | None = None,
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
            payload_store: Where long button payloads are kept for every process (default:
                the helpdesk database when the channel makes its own output channel).
            output: The output channel of the answers (default: one from these credentials).
            recovery_delay: How long ago an unfinished message must have been claimed to be
                handled again at start.
            shutdown_timeout: Seconds the server waits, when stopping, for messages in work.

        Raises:
            WhatsAppConfigError: For a missing credential.
        """
        missing = blank_credentials(
            access_token=access_token,
            phone_number_id=phone_number_id,
            app_secret=app_secret,
            verify_token=verify_token,
        )
        if missing:
            raise WhatsAppConfigError(missing_credentials_message(missing))
        self.phone_number_id = clean_credential(phone_number_id)
        self.app_secret = clean_credential(app_secret)
        self.verify_token = clean_credential(verify_token)
        self.api_url = base_url(api_url, DEFAULT_API_URL)
        output = output or WhatsAppOutput(
            clean_credential(access_token),
            self.phone_number_id,
            self.api_url,
            payload_ids=PayloadIds(store=payload_store or ServicesPayloadStore()),
        )
        if payload_store is not None:
            output.payload_ids.attach(payload_store)
        self.open_inbox(
            output,
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

    # ----------------------------------------------------------------- web

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The webhook routes: `/` (health) and `/webhook` (GET check, POST deliveries)."""
        whatsapp_webhook = Blueprint("whatsapp_webhook", __name__)
        self.add_inbox_listeners(whatsapp_webhook, on_new_message)
        add_health_route(whatsapp_webhook)

        @whatsapp_webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return subscription_answer(request, self.verify_token, CHANNEL_NAME, logger)

        @whatsapp_webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            payload = await signed_delivery(request, self.app_secret, CHANNEL_NAME, logger)
            if isinstance(payload, HTTPResponse):
                return payload

            payload_ids = self.output.payload_ids
            batch = await payload_ids.call(
                parse_webhook,
                payload,
                phone_number_id=self.phone_number_id,
                payload_ids=payload_ids,
            )
            for kind in batch.ignored:
                logger.info("whatsapp: ignored a message of type %s", kind)
            if batch.statuses:
                logger.debug("whatsapp: %d status callbacks acknowledged", batch.statuses)
            statuses_kept = await record_statuses(batch.status_updates)
            accepted = await self.inbox.accept(
                [message.inbound() for message in batch.messages], on_new_message
            )
            status, word = accepted.answer()
            if not statuses_kept:  # Meta delivers it again; its messages are claimed once
                status, word = 503, "retry"
            return response.json({"status": word}, status=status)

        return whatsapp_webhook
