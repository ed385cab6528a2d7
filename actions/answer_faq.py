"""action_answer_faq: answer from the knowledge base, or decline politely."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin, latest_text

logger = logging.getLogger(__name__)


class ActionAnswerFaq(ServicesMixin, Action):
    """Answer the latest message with the best FAQ; record every question asked."""

    def name(self) -> str:
        return "action_answer_faq"

    def _record(self, tracker: Tracker, question: str, **kwargs: Any) -> None:
        try:
            self.services.questions.record(tracker.sender_id, question, **kwargs)
        except Exception:
            logger.exception("could not record the question of %s", tracker.sender_id)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        question = latest_text(tracker)
        not_waiting = [SlotSet(slots.AWAITING_FEEDBACK, False)]
        if not question:
            dispatcher.utter_message(response="utter_ask_type_question")
            return not_waiting
        try:
            answer = self.services.retriever.answer(question)
        except Exception:
            logger.exception("the knowledge base could not answer %r", question)
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return not_waiting

        if answer.reason == "empty":
            dispatcher.utter_message(response="utter_ask_type_question")
            return not_waiting

        if not answer.answered or answer.best is None:
            top = answer.candidates[0] if getattr(answer, "candidates", None) else None
            self._record(tracker, question, answered=False, score=top.score if top else None)
            dispatcher.utter_message(response="utter_faq_no_answer")
            return [
                *not_waiting,
                SlotSet(slots.FAQ_ID, None),
                SlotSet(slots.LAST_QUESTION, question),
            ]

        best = answer.best
        self._record(tracker, question, answered=True, faq_id=best.entry.id, score=best.score)
        dispatcher.utter_message(response="utter_faq_answer", answer=best.entry.answer.strip())
        dispatcher.utter_message(response="utter_faq_disclaimer")
        related = [m for m in answer.related if m.entry.id != best.entry.id][:2]
        if related:
            dispatcher.utter_message(
                response="utter_faq_related",
                buttons=[{"title": m.entry.question, "payload": m.entry.question} for m in related],
            )
        dispatcher.utter_message(response="utter_ask_faq_feedback")
        return [
            SlotSet(slots.AWAITING_FEEDBACK, True),
            SlotSet(slots.FAQ_ID, best.entry.id),
            SlotSet(slots.LAST_QUESTION, question),
        ]
