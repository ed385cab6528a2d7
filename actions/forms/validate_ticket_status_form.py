"""validate_ticket_status_form: a well-formed ticket id."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from helpdesk.tickets.service import normalize_ticket_id


class ValidateTicketStatusForm(FormValidationAction):
    """Accept `YYYYMMDD-XXXXXX` (also with a space or lower case); else re-ask with the format."""

    def name(self) -> str:
        return "validate_ticket_status_form"

    def validate_ticket_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """Normalise the id, or explain the expected format."""
        ticket_id = normalize_ticket_id(str(slot_value or ""))
        if ticket_id is None:
            dispatcher.utter_message(
                response="utter_invalid_ticket_id", value=" ".join(str(slot_value or "").split())
            )
            return {slots.TICKET_ID: None}
        return {slots.TICKET_ID: ticket_id}
