"""action_save_csat: store the 1-5 rating of an FAQ answer or of a human agent.

One run of csat_form stores at most one rating: it is keyed by the conversation and the moment
the form was activated, so a turn Rasa runs again after a crash (or a REST client sends again
after a 502) does not store the rating twice; the citizen is thanked either way.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin, form_started_at
from actions.forms.validate_csat_form import RATING_LABELS, parse_rating
from helpdesk.storage.enums import CsatKind
from helpdesk.tickets.service import form_submission_key

logger = logging.getLogger(__name__)

#: The kinds of rating the csat form collects (slot csat_kind; empty means "faq").
KINDS = tuple(kind.value for kind in CsatKind)


def _handoff_id(value: Any) -> int | None:
    """The handoff id kept in slot handoff_id ("12", 12.0), or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() and number > 0 else None


class ActionSaveCsat(ServicesMixin, Action):
    """Save the rating (with the question and FAQ id, or with the handoff), then thank."""

    def name(self) -> str:
        return "action_save_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        kind = tracker.get_slot(slots.CSAT_KIND) or CsatKind.FAQ
        if kind not in KINDS:
            logger.error("unknown csat_kind %r; saved as an FAQ rating", kind)
            kind = CsatKind.FAQ
        events: list[EventType] = [
            SlotSet(slots.CSAT_RATING, None),
            SlotSet(slots.AWAITING_FEEDBACK, False),
        ]
        if kind == CsatKind.AGENT:
            events.extend([SlotSet(slots.CSAT_KIND, None), SlotSet(slots.HANDOFF_ID, None)])
        rating = parse_rating(tracker.get_slot(slots.CSAT_RATING))
        if rating is None:
            logger.error("action_save_csat ran without a valid csat_rating")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return events
        started_at = form_started_at(tracker, slots.CSAT_FORM)
        key = None if started_at is None else form_submission_key(tracker.sender_id, started_at)
        try:
            if kind == CsatKind.AGENT:
                self.services.csat.add(
                    tracker.sender_id,
                    rating,
                    kind=CsatKind.AGENT,
                    handoff_id=_handoff_id(tracker.get_slot(slots.HANDOFF_ID)),
                    submission_key=key,
                )
            else:
                self.services.csat.add(
                    tracker.sender_id,
                    rating,
                    kind=CsatKind.FAQ,
                    question=tracker.get_slot(slots.LAST_QUESTION),
                    faq_id=tracker.get_slot(slots.FAQ_ID),
                    submission_key=key,
                )
        except Exception:
            logger.exception("could not save the rating of %s", tracker.sender_id)
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return events
        dispatcher.utter_message(
            response="utter_csat_thanks_agent" if kind == CsatKind.AGENT else "utter_csat_thanks",
            rating_label=f"{rating} - {RATING_LABELS[rating]}",
        )
        return events
