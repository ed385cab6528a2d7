"""Route questions *about* a service to the knowledge base instead of running the service.

DIET recognises the topic of "bagaimana cara reset password sakti?" (SAKTI, reset) and
classifies it as `sakti_service`, which starts the reset form; the citizen wanted the how-to
answer. This component runs after the intent classifier and, for the intents that start a
self-service flow, relabels a message whose shape is a how-to / why / where-to question
(`helpdesk.conversation.question_shape.is_question_about_service`) as `ask_question`, keeping the
classifier's confidence. Requests ("reset sakti saya"), questions about the citizen's own case
("statusnya gimana") and messages with an identifier keep their intent.

A message DIET takes for a bare value (`inform`: "lewati", an e-mail) that reads as a question
of its own ("kppn tutup saat cuti bersama?": a "?", a question word first) and carries no
entity is routed the same way: outside a form a stray value only gets "anything else?", and a
question deserves an answer or an honest decline.

The original intent stays in the ranking, and `question_routed_from` in the parse data names
it, so the decision is visible in the tracker.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from helpdesk.conversation.question_shape import is_question_about_service, reads_as_question

#: Key of the parse data that names the intent a message was routed away from.
ROUTED_FROM = "question_routed_from"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class QuestionRouter(GraphComponent):
    """Relabel how-to questions about a self-service flow as questions for the FAQ.

    Config:
        service_intents: Intents that start a self-service flow.
        question_intent: The intent that asks the knowledge base.
        answer_intents: Intents of a bare value, routed when the message reads as a question.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Returns the component's default config."""
        return {
            "service_intents": [
                "sakti_service",
                "digit_service",
                "sp2d_info",
                "contract_check",
                "create_ticket",
            ],
            "question_intent": "ask_question",
            "answer_intents": ["inform"],
        }

    def __init__(self, config: Dict[str, Any]) -> None:
        self._service_intents = frozenset(config["service_intents"])
        self._question_intent = str(config["question_intent"])
        self._answer_intents = frozenset(config.get("answer_intents") or ())

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> QuestionRouter:
        """Creates a new component (see parent class for full docstring)."""
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: List[Message]) -> List[Message]:
        """Relabel each message that asks about a service (in place).

        Args:
            messages: Parsed messages (intent already classified).

        Returns:
            The same messages.
        """
        for message in messages:
            self._route(message)
        return messages

    def _route(self, message: Message) -> None:
        intent = message.get(INTENT) or {}
        name = intent.get(INTENT_NAME_KEY)
        text = str(message.get(TEXT) or "")
        if name in self._service_intents:
            if not is_question_about_service(text):
                return
        elif name in self._answer_intents:
            if message.get(ENTITIES) or not reads_as_question(text):
                return
        else:
            return
        confidence = float(intent.get("confidence") or 0.0)
        message.set(INTENT, {INTENT_NAME_KEY: self._question_intent, "confidence": confidence})
        ranking = [
            r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != name
        ]
        ranking = [r for r in ranking if r.get(INTENT_NAME_KEY) != self._question_intent]
        ranking.insert(0, {INTENT_NAME_KEY: self._question_intent, "confidence": confidence})
        ranking.append({INTENT_NAME_KEY: name, "confidence": 0.0})
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        message.set(ROUTED_FROM, name, add_to_output=True)
