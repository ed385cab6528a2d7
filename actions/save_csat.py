"""action_save_csat: store the 1-5 rating of an FAQ answer."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin
from actions.forms.validate_csat_form import RATING_LABELS, parse_rating

logger = logging.getLogger(__name__)


class ActionSaveCsat(ServicesMixin, Action):
    """Save the rating with the question and the FAQ id, then thank the user."""

    def name(self) -> str:
        return "action_save_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [
            SlotSet(slots.CSAT_RATING, None),
            SlotSet(slots.AWAITING_FEEDBACK, False),
        ]
        rating = parse_rating(tracker.get_slot(slots.CSAT_RATING))
        if rating is None:
            logger.error("action_save_csat ran without a valid csat_rating")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return events
        try:
            self.services.csat.add(
                tracker.sender_id,
                rating,
                kind="faq",
                question=tracker.get_slot(slots.LAST_QUESTION),
                faq_id=tracker.get_slot(slots.FAQ_ID),
            )
        except Exception:
            logger.exception("could not save the rating of %s", tracker.sender_id)
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return events
        dispatcher.utter_message(
            response="utter_csat_thanks", rating_label=f"{rating} - {RATING_LABELS[rating]}"
        )
        return events
