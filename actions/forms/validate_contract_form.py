"""validate_contract_form: a 6-digit work-unit code and the full contract number."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.forms.service_form import ServiceFormValidation, shown
from helpdesk.conversation.identifiers import SATKER_CODE, IdentifierError, parse_contract_number


class ValidateContractForm(ServiceFormValidation, FormValidationAction):
    """Refuse a malformed satker code or contract number with the reason."""

    def name(self) -> str:
        return "validate_contract_form"

    def validate_contract_satker_code(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """6 digits."""
        return self.digits(
            dispatcher,
            tracker,
            slots.CONTRACT_SATKER_CODE,
            slot_value,
            SATKER_CODE,
            "utter_invalid_contract_satker_code",
        )

    def validate_contract_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """Letters, digits and `. / - _`, with at least one digit ("KTR-01/PPK/2026")."""
        try:
            return {slots.CONTRACT_NUMBER: parse_contract_number(slot_value)}
        except IdentifierError:
            return self.reject(
                dispatcher,
                tracker,
                slots.CONTRACT_NUMBER,
                "utter_invalid_contract_number",
                value=shown(slot_value),
            )
