"""action_answer_faq: answer from the knowledge base, or decline politely."""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import (
    UTTER_TECHNICAL_PROBLEM,
    ServicesMixin,
    latest_text,
    note_cut_message,
)
from helpdesk import metrics
from helpdesk.knowledge.query import QUERY_EMBEDDING_KEY, QueryEmbedding

logger = logging.getLogger(__name__)

#: Entity of a related-question button's payload: the FAQ it names.
FAQ_ENTITY = "faq_id"


def faq_payload(entry_id: str) -> str:
    """The payload of a button that asks one FAQ: it answers that entry, whatever NLU would
    make of its question's words ("Bagaimana cara mengecek status SP2D?" is not a lookup)."""
    return "/ask_question" + json.dumps({FAQ_ENTITY: entry_id}, separators=(",", ":"))


class ActionAnswerFaq(ServicesMixin, Action):
    """Answer the latest message with the best FAQ; record every question asked."""

    def name(self) -> str:
        return "action_answer_faq"

    def _record(self, tracker: Tracker, question: str, **kwargs: Any) -> None:
        try:
            self.services.questions.record(tracker.sender_id, question, **kwargs)
        except Exception:
            logger.exception("could not record the question of %s", tracker.sender_id)

    def _names_a_menu_item(self, text: str) -> bool:
        try:
            return self.services.menu.named(text) is not None
        except Exception:
            logger.exception("the menu could not be loaded")
            return False

    def _answer_for(self, question: str, chosen: str | None, tracker: Tracker) -> Any:
        """The retriever's answer: to the entry a related-question button names, else to the
        question typed (also when the named entry no longer exists), reusing the question's
        embedding when the NLU pipeline put it in the parse data."""
        retriever = self.services.retriever
        if chosen:
            answer = retriever.answer_entry(str(chosen))
            if answer is not None:
                return answer
            logger.info("a button named the FAQ %r, which no longer exists", chosen)
        embedding = QueryEmbedding.from_json(
            (tracker.latest_message or {}).get(QUERY_EMBEDDING_KEY)
        )
        return retriever.answer(question, embedding)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        question = latest_text(tracker)
        chosen = next(tracker.get_latest_entity_values(FAQ_ENTITY), None)
        not_waiting = [SlotSet(slots.AWAITING_FEEDBACK, False)]
        if not question and not chosen:
            dispatcher.utter_message(response="utter_ask_type_question")
            return not_waiting
        if not chosen and self._names_a_menu_item(question):
            # "konsultasi rumah": an item of this organisation's menu, by its name.
            return [FollowupAction("action_menu_select")]
        # A long message: the answer comes from its beginning only (components/length_guard).
        note_cut_message(dispatcher, tracker)
        try:
            answer = self._answer_for(question, chosen, tracker)
        except Exception:
            logger.exception("the knowledge base could not answer %r", question or chosen)
            metrics.faq_answer("error")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return not_waiting
        return self.reply(dispatcher, tracker, answer)

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, answer: Any
    ) -> list[EventType]:
        """Send the retriever's `answer` (the entry with its disclaimer, related questions and
        the "is this right?" question, or the polite decline) and record the question."""
        not_waiting = [SlotSet(slots.AWAITING_FEEDBACK, False)]
        question = answer.query
        metrics.faq_answer(metrics.faq_outcome(answer.reason))

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
                buttons=[
                    {"title": m.entry.question, "payload": faq_payload(m.entry.id)} for m in related
                ],
            )
        dispatcher.utter_message(response="utter_ask_faq_feedback")
        return [
            SlotSet(slots.AWAITING_FEEDBACK, True),
            SlotSet(slots.FAQ_ID, best.entry.id),
            SlotSet(slots.LAST_QUESTION, question),
        ]
