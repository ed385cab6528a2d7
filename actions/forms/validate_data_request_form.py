"""validate_data_request_form: who asks (the channel identity, or an e-mailed code on the web
chat) and the citizen's confirmation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin, latest_text, lookup_allowed
from actions.data_request import identity_channel
from actions.forms.service_form import shown, stop_form
from helpdesk.conversation.validation import validate_email
from helpdesk.security.masking import mask_email

logger = logging.getLogger(__name__)

#: Words read as "yes" and "no" when NLU gave neither affirm nor deny.
YES = frozenset({"ya", "iya", "y", "yes", "lanjut", "lanjutkan", "setuju", "ok", "oke", "boleh"})
NO = frozenset({"tidak", "tdk", "nggak", "gak", "ga", "no", "jangan", "batal"})


class ValidateDataRequestForm(ServicesMixin, FormValidationAction):
    """Off identity channels, an e-mail address and the code sent to it; then "ya"/"tidak"."""

    def name(self) -> str:
        return "validate_data_request_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        trusted = self.services.settings.sakti_trusted_channels
        if identity_channel(tracker, trusted) is not None:
            return [slots.DATA_REQUEST_CONFIRM]
        return [slots.DATA_REQUEST_EMAIL, slots.DATA_REQUEST_CODE, slots.DATA_REQUEST_CONFIRM]

    async def validate_data_request_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """A valid address; the code goes to it at once."""
        email = validate_email(str(slot_value or ""))
        if email is None:
            dispatcher.utter_message(
                response="utter_invalid_data_request_email", value=shown(slot_value)
            )
            return {slots.DATA_REQUEST_EMAIL: None}
        codes = self.services.email_codes
        if not codes.available:
            dispatcher.utter_message(response="utter_data_request_email_unavailable")
            return {slots.DATA_REQUEST_EMAIL: None, **stop_form()}
        # Codes are limited like lookups (per visitor, per address): no mail bomb through us.
        if not await lookup_allowed(self.services, dispatcher, tracker, "email", email):
            return {slots.DATA_REQUEST_EMAIL: None, **stop_form()}
        try:
            sent = await asyncio.to_thread(codes.send, tracker.sender_id, email)
        except Exception:
            logger.exception("a verification code could not be issued")
            sent = False
        if not sent:
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return {slots.DATA_REQUEST_EMAIL: None, **stop_form()}
        dispatcher.utter_message(
            response="utter_data_request_code_sent", email_masked=mask_email(email)
        )
        return {slots.DATA_REQUEST_EMAIL: email}

    async def validate_data_request_code(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """The code e-mailed to this visitor: a wrong one is asked again (a few times)."""
        code = "".join(ch for ch in str(slot_value or "") if ch.isdigit())
        try:
            result = await asyncio.to_thread(
                self.services.email_codes.check, tracker.sender_id, code
            )
        except Exception:
            logger.exception("a verification code could not be checked")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return {slots.DATA_REQUEST_CODE: None, **stop_form()}
        if result is None:
            dispatcher.utter_message(response="utter_data_request_code_expired")
            return {slots.DATA_REQUEST_CODE: None, **stop_form()}
        if result is False:
            dispatcher.utter_message(response="utter_data_request_code_wrong")
            return {slots.DATA_REQUEST_CODE: None}
        return {slots.DATA_REQUEST_CODE: "ok", slots.DATA_REQUEST_VERIFIED_EMAIL: result}

    def validate_data_request_confirm(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """ "ya" or "tidak" (buttons, affirm/deny, or the words typed)."""
        value = str(slot_value or "").strip().lower()
        if value not in ("ya", "tidak"):
            words = set(latest_text(tracker).lower().replace(",", " ").split())
            value = "ya" if words & YES and not words & NO else "tidak" if words & NO else ""
        if value not in ("ya", "tidak"):
            dispatcher.utter_message(response="utter_invalid_data_request_confirm")
            return {slots.DATA_REQUEST_CONFIRM: None}
        return {slots.DATA_REQUEST_CONFIRM: value}
