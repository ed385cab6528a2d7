"""validate_sp2d_form: a 15-digit SP2D number and the recipient's account number."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.forms.service_form import ServiceFormValidation
from helpdesk.conversation.identifiers import ACCOUNT_NUMBER, SP2D_NUMBER


class ValidateSp2dForm(ServiceFormValidation, FormValidationAction):
    """Keep the digits of each number, or say how many digits were typed."""

    def name(self) -> str:
        return "validate_sp2d_form"

    def validate_sp2d_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """15 digits (spaces and dots between groups are fine)."""
        return self.digits(
            dispatcher,
            tracker,
            slots.SP2D_NUMBER,
            slot_value,
            SP2D_NUMBER,
            "utter_invalid_sp2d_number",
        )

    def validate_sp2d_account(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """5 to 20 digits."""
        return self.digits(
            dispatcher,
            tracker,
            slots.SP2D_ACCOUNT,
            slot_value,
            ACCOUNT_NUMBER,
            "utter_invalid_sp2d_account",
        )
