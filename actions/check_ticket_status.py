"""action_check_ticket_status: status, subject and last update of a ticket."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin
from helpdesk.conversation.dates import format_datetime_id
from helpdesk.tickets.service import normalize_ticket_id

logger = logging.getLogger(__name__)


class ActionCheckTicketStatus(ServicesMixin, Action):
    """Look the ticket up and tell its status, or say clearly that it does not exist."""

    def name(self) -> str:
        return "action_check_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [SlotSet(slots.TICKET_ID, None)]
        raw = tracker.get_slot(slots.TICKET_ID) or ""
        ticket_id = normalize_ticket_id(raw)
        if ticket_id is None:
            dispatcher.utter_message(response="utter_invalid_ticket_id", value=raw)
            return events
        try:
            info = self.services.tickets.get_status(ticket_id)
        except Exception:
            logger.exception("could not read ticket %s", ticket_id)
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return events
        if info is None:
            dispatcher.utter_message(response="utter_ticket_not_found", ticket_number=ticket_id)
            return events
        dispatcher.utter_message(
            response="utter_ticket_status",
            ticket_number=info.id,
            status_label=info.status_label,
            subject=info.subject,
            updated_at=format_datetime_id(info.updated_at, self.services.settings.tz),
        )
        if info.public_reply:
            dispatcher.utter_message(
                response="utter_ticket_public_reply", public_reply=info.public_reply
            )
        return events
