"""validate_sakti_form: reset password or MFA, the NIK (owner check) and the work unit."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.base import (
    UTTER_TECHNICAL_PROBLEM,
    AuditUnavailable,
    audited,
    lookup_allowed,
    requester_phone_of,
)
from actions.forms.service_form import ServiceFormValidation, shown, stop_form
from helpdesk.backends.errors import BackendError, NotFound, Rejected
from helpdesk.conversation.identifiers import (
    NIK,
    SAKTI_KINDS,
    SATKER_CODE,
    IdentifierError,
    parse_choice,
)

logger = logging.getLogger(__name__)


class ValidateSaktiForm(ServiceFormValidation, FormValidationAction):
    """Serve only the account's owner, writing from the phone registered for the NIK.

    The channel check runs before anything is asked; the NIK is checked against the phone
    as soon as it is typed. A refusal says nothing about whether the NIK has an account.
    """

    def name(self) -> str:
        return "validate_sakti_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if requester_phone_of(tracker, self.services.settings) is None:
            dispatcher.utter_message(response="utter_sakti_refused")
            return [SlotSet(name, value) for name, value in stop_form().items()]
        return await super().run(dispatcher, tracker, domain)

    def extract_sakti_kind(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The answer to the question, or "password" / "mfa" in the request ("reset mfa")."""
        return self.extract_choice(tracker, slots.SAKTI_KIND, SAKTI_KINDS, "sakti_service")

    def validate_sakti_kind(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """password (1) or mfa (2)."""
        kind = parse_choice(slot_value, SAKTI_KINDS)
        if kind is None:
            return self.reject(dispatcher, tracker, slots.SAKTI_KIND, "utter_invalid_sakti_kind")
        return {slots.SAKTI_KIND: kind}

    async def validate_sakti_nik(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """16 digits, registered in SAKTI with the phone this conversation comes from."""
        try:
            nik = self.parse_number(tracker, NIK, slot_value)
        except IdentifierError as error:
            return self.reject(
                dispatcher,
                tracker,
                slots.SAKTI_NIK,
                "utter_invalid_sakti_nik",
                value=shown(slot_value),
                count=error.count,
            )
        phone = requester_phone_of(tracker, self.services.settings)
        # The owner check answers whether a NIK belongs to this phone: limited like every
        # lookup, so it cannot be used to probe NIKs.
        if phone is not None and not await lookup_allowed(
            self.services, dispatcher, tracker, "nik", nik
        ):
            return {slots.SAKTI_NIK: None, **stop_form()}
        try:
            if phone is None:  # run() refuses first; kept for direct calls
                raise Rejected("requester_not_owner")
            satkers = await audited(
                self.services,
                tracker,
                "nik",
                nik,
                self.services.sakti.satkers,
                nik,
                phone,
                service="sakti_owner_check",
            )
        except AuditUnavailable:
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return {slots.SAKTI_NIK: None, **stop_form()}
        except (Rejected, NotFound):
            dispatcher.utter_message(response="utter_sakti_refused")
            return {slots.SAKTI_NIK: None, **stop_form()}
        except BackendError:
            logger.warning("SAKTI owner check failed: backend unavailable")
            dispatcher.utter_message(response="utter_backend_unavailable", service="SAKTI")
            return {slots.SAKTI_NIK: None, **stop_form()}
        options = [{"code": s.satker_code, "name": s.satker_name or ""} for s in satkers]
        return {slots.SAKTI_NIK: nik, slots.SAKTI_SATKER_OPTIONS: options}

    def validate_sakti_satker_code(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """6 digits, one of the work units the NIK is registered in."""
        try:
            code = self.parse_number(tracker, SATKER_CODE, slot_value)
        except IdentifierError as error:
            return self.reject(
                dispatcher,
                tracker,
                slots.SAKTI_SATKER_CODE,
                "utter_invalid_sakti_satker_code",
                value=shown(slot_value),
                count=error.count,
            )
        codes = [option["code"] for option in tracker.get_slot(slots.SAKTI_SATKER_OPTIONS) or []]
        if codes and code not in codes:
            return self.reject(
                dispatcher,
                tracker,
                slots.SAKTI_SATKER_CODE,
                "utter_sakti_satker_not_registered",
                satker_code=code,
                satker_list=", ".join(codes),
            )
        return {slots.SAKTI_SATKER_CODE: code}
