"""action_create_ticket: store the confirmed ticket and reply with its id.

One run of ticket_form makes at most one ticket: the submission is keyed by the conversation
and the moment this run of the form was activated (an event Rasa stored, the same each time the
tracker is read). If the Rasa server dies after the ticket is stored but before it saves the
conversation, the citizen's next "Kirim" replays the same tracker and is told the same id.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import ServicesMixin, channel_of, form_started_at
from actions.flow import flow_notes
from helpdesk.tickets.service import TicketDraft, form_submission_key

logger = logging.getLogger(__name__)


class ActionCreateTicket(ServicesMixin, Action):
    """Create the ticket from the ticket_form slots."""

    def name(self) -> str:
        return "action_create_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot(slots.TICKET_CONFIRMATION) != slots.CONFIRM_SEND:
            dispatcher.utter_message(response="utter_cancelled")
            return [SlotSet(name, None) for name in slots.FORM_SLOTS[slots.TICKET_FORM]]
        attachment = tracker.get_slot(slots.TICKET_ATTACHMENT)
        chronology = tracker.get_slot(slots.TICKET_CHRONOLOGY) or ""
        notes = flow_notes(self.services, tracker.sender_id)
        if notes and chronology.strip():
            chronology = f"{chronology}\n\n{notes}"
        draft = TicketDraft(
            subject=tracker.get_slot(slots.TICKET_SUBJECT) or "",
            chronology=chronology,
            email=tracker.get_slot(slots.TICKET_EMAIL) or "",
            attachment=None if attachment in (None, slots.NO_ATTACHMENT) else attachment,
            sender_id=tracker.sender_id,
            channel=channel_of(tracker),
            category=self.faq_category(tracker),
        )
        started_at = form_started_at(tracker, slots.TICKET_FORM)
        key = None if started_at is None else form_submission_key(tracker.sender_id, started_at)
        try:
            info = self.services.tickets.create(draft, submission_key=key)
        except Exception:
            logger.exception("could not create the ticket of %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_ticket_create_failed")
            # Keep what the user typed: choosing "Buat Tiket" again shows the summary.
            return [SlotSet(slots.TICKET_CONFIRMATION, None)]
        dispatcher.utter_message(response="utter_ticket_created", ticket_number=info.id)
        return [SlotSet(name, None) for name in slots.FORM_SLOTS[slots.TICKET_FORM]]
