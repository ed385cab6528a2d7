"""validate_digit_form: the DIGIT service, the identity (NIK, NIP or NRP) and the e-mail."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.forms.service_form import NOT_AN_ANSWER, ServiceFormValidation, shown
from helpdesk.conversation.identifiers import (
    ID_TYPE_CHOICES,
    DigitRule,
    IdentifierError,
    identity_rule,
    identity_type_of,
    parse_choice,
)
from helpdesk.conversation.keywords import digit_service_of
from helpdesk.conversation.validation import validate_email


def _expected(rule: DigitRule) -> str:
    if rule.min_length == rule.max_length:
        return str(rule.min_length)
    return f"{rule.min_length}-{rule.max_length}"


class ValidateDigitForm(ServiceFormValidation, FormValidationAction):
    """Choose the service and identity type by number, button or keyword; check the values."""

    def name(self) -> str:
        return "validate_digit_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """The status check needs no e-mail; a stopped form needs nothing more."""
        if tracker.get_slot(slots.FORM_STOPPED):
            return []
        if tracker.get_slot(slots.DIGIT_SERVICE) == "status":
            return [slot for slot in domain_slots if slot != slots.DIGIT_EMAIL]
        return domain_slots

    def extract_digit_service(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The answer to the service question (checked by `validate_digit_service`), or the
        service the opening request names in informal words ("akun digit sy keblokir")."""
        if tracker.get_slot(slots.DIGIT_SERVICE):
            return {}
        text = str((tracker.latest_message or {}).get("text") or "").strip()
        intent = self.latest_intent(tracker)
        if self.requested(tracker) == slots.DIGIT_SERVICE:
            return {} if intent in NOT_AN_ANSWER or not text else {slots.DIGIT_SERVICE: text}
        if intent == "digit_service":
            service = digit_service_of(text)
            return {slots.DIGIT_SERVICE: service} if service else {}
        return {}

    def extract_digit_id_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.extract_choice(tracker, slots.DIGIT_ID_TYPE, ID_TYPE_CHOICES, "digit_service")

    def validate_digit_service(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """One of status, email_check, activation, reset, unblock (1-5 or a keyword)."""
        key = digit_service_of(slot_value, numbered=True)
        if key is None:
            return self.reject(
                dispatcher,
                tracker,
                slots.DIGIT_SERVICE,
                "utter_invalid_digit_service",
                value=shown(slot_value),
            )
        return {slots.DIGIT_SERVICE: key}

    def validate_digit_id_type(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """NIK, NIP or NRP; a number typed before the type is checked against it."""
        key = parse_choice(slot_value, ID_TYPE_CHOICES)
        if key is None:
            # A NIK (16 digits) or NIP (18) typed instead of its type answers both questions.
            try:
                number = identity_rule(None).parse(slot_value)
            except IdentifierError:
                number = ""
            if known := identity_type_of(number):
                return {
                    slots.DIGIT_ID_TYPE: known,
                    slots.DIGIT_ID_VALUE: number,
                }
            return self.reject(
                dispatcher, tracker, slots.DIGIT_ID_TYPE, "utter_invalid_digit_id_type"
            )
        result: dict[str, Any] = {slots.DIGIT_ID_TYPE: key}
        value = tracker.get_slot(slots.DIGIT_ID_VALUE)
        rule = identity_rule(key)
        if value:
            try:
                rule.parse(value)
            except IdentifierError as error:
                dispatcher.utter_message(
                    response="utter_invalid_digit_id_value",
                    digit_id_label=key.upper(),
                    expected=_expected(rule),
                    value=shown(value),
                    count=error.count,
                )
                result[slots.DIGIT_ID_VALUE] = None
        return result

    def validate_digit_id_value(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """The number of the chosen type; before a type is chosen, 16 digits is a NIK and 18 a
        NIP, any other length waits for the type."""
        id_type = tracker.get_slot(slots.DIGIT_ID_TYPE)
        rule = identity_rule(id_type)
        label = id_type.upper() if id_type else "NIK/NIP/NRP"
        try:
            value = self.parse_number(tracker, rule, slot_value)
        except IdentifierError as error:
            return self.reject(
                dispatcher,
                tracker,
                slots.DIGIT_ID_VALUE,
                "utter_invalid_digit_id_value",
                digit_id_label=label,
                expected=_expected(rule),
                value=shown(slot_value),
                count=error.count,
            )
        result: dict[str, Any] = {slots.DIGIT_ID_VALUE: value}
        if not id_type and (known := identity_type_of(value)):
            result[slots.DIGIT_ID_TYPE] = known
        return result

    def validate_digit_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """A valid e-mail address (normalised)."""
        email = validate_email(str(slot_value or ""))
        if email is None:
            return self.reject(
                dispatcher,
                tracker,
                slots.DIGIT_EMAIL,
                "utter_invalid_digit_email",
                value=shown(slot_value),
            )
        return {slots.DIGIT_EMAIL: email}
