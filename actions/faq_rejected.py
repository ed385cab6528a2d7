"""action_faq_rejected: the user said an answer was not right ("Tidak")."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.handoff import HandsOver

logger = logging.getLogger(__name__)


class ActionFaqRejected(HandsOver, Action):
    """Log the question as unanswered, apologise, then hand over or offer the options.

    In office hours this action hands the conversation over itself (the handoff step it
    shares with `action_handoff`, `HandsOver.hand_over`: queued and paused), so an officer
    answers. Not a
    `FollowupAction`: when the handoff does not end in the queue (a database error, the hours
    just closed) Rasa must predict the next action, and after "Tidak" -> action_faq_rejected
    -> action_handoff no rule could predict it without contradicting the rule that listens
    after action_faq_rejected (there is no TEDPolicy; the core fallback would answer).
    Outside office hours (or when they cannot be read) the citizen may rephrase the question
    or create a ticket.

    Args:
        services: Injected services (tests); the process-wide ones when None.
        clock: Returns the current aware time (tests); now in UTC when None.
    """

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
        events: list[EventType] = [SlotSet(slots.AWAITING_FEEDBACK, False)]
        if self._agents_on_duty():
            dispatcher.utter_message(response="utter_faq_rejected_handoff")
            return [*events, *self.hand_over(dispatcher, tracker)]
        dispatcher.utter_message(response="utter_faq_rejected")
        return events

    def _agents_on_duty(self) -> bool:
        """True in office hours; False outside them or when they cannot be read."""
        try:
            return self.services.handoff.is_open(self._clock())
        except Exception:
            logger.exception("could not read the office hours")
            return False
