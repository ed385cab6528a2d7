"""action_faq_rejected: the user said an answer was not right ("Tidak")."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import ServicesMixin

logger = logging.getLogger(__name__)


class ActionFaqRejected(ServicesMixin, Action):
    """Apologise, offer to rephrase or to create a ticket, log the question as unanswered."""

    def name(self) -> str:
        return "action_faq_rejected"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        question = tracker.get_slot(slots.LAST_QUESTION)
        if question:
            try:
                # The user rejected the FAQ shown: knowledge managers see it as unanswered.
                self.services.questions.record(
                    tracker.sender_id,
                    question,
                    answered=False,
                    faq_id=tracker.get_slot(slots.FAQ_ID),
                )
            except Exception:
                logger.exception("could not record the rejected answer of %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_faq_rejected")
        return [SlotSet(slots.AWAITING_FEEDBACK, False)]
