"""Cut the text that reaches NLU to a sane length, before anything tokenises it.

DIET's memory and time grow with the square of a message's length: on two cores, 30,000
characters delayed every other user from 0.1 s to 4 s, 40,000 took the Rasa server to 3.1 GB
and 100 KB past 12 GB. Nobody needs more than the start of a message to tell what it is about,
so this component, FIRST in the pipeline, shortens the message's TEXT attribute to
`DEFAULT_MAX_CHARACTERS` (at a word boundary) before the tokenizer, the featurizers and DIET
see it, and flags the parse data with `text_truncated: true`.

Only the NLU input is cut. Rasa stores the message in the tracker as the channel gave it:
`rasa.core.processor.MessageProcessor._handle_message_with_tracker` builds the `user` event
from `UserMessage.text` (whole), with the parse data (whose `text` is the cut one) beside it.
So `from_text` slot mappings (the ticket's chronology) and the tracker's `user` events keep the
whole text up to the channel's own limit, while `latest_message["text"]` in the action server
is the cut text and carries the flag (`actions.base.text_was_cut`, `actions.base.whole_text`).
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components import extensions
from connectors.common import cut_text

__all__ = [
    "DEFAULT_MAX_CHARACTERS",
    "ORIGINAL_LENGTH_KEY",
    "TRUNCATED_KEY",
    "MessageLengthGuard",
    "cut_text",
]

#: Characters of a message that NLU reads. About 150-250 words: far more than any question,
#: request or menu choice needs to be classified, and small enough that DIET's quadratic cost
#: stays in milliseconds and a few MB (40,000 characters took 3.1 GB).
DEFAULT_MAX_CHARACTERS = 1000
#: Key of the parse data that says the text NLU read was cut.
TRUNCATED_KEY = "text_truncated"
#: Key of the parse data holding the length of the text as received (in characters).
ORIGINAL_LENGTH_KEY = "text_original_length"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MessageLengthGuard(GraphComponent):
    """Shortens the text NLU reads to `max_characters`; flags the message when it did.

    Registered as a message preprocessor (like a tokenizer, without being one) so that Rasa
    runs it in the training and the prediction graph, in pipeline order: it must be the FIRST
    entry of the pipeline.

    Config:
        max_characters: The most characters NLU reads (default `DEFAULT_MAX_CHARACTERS`).
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Returns the component's default config."""
        return {"max_characters": DEFAULT_MAX_CHARACTERS}

    def __init__(self, config: Dict[str, Any]) -> None:
        # The first component of the pipeline: building it (server, training, `rasa test`)
        # applies the assistant's Rasa-side extensions (see `components.extensions`).
        extensions.apply()
        limit = config.get("max_characters")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise ValueError("max_characters must be a whole number > 0")
        self._limit = limit

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MessageLengthGuard:
        """Creates a new component (see parent class for full docstring)."""
        return cls({**cls.get_default_config(), **config})

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Cut over-long training examples the same way (none are expected); not flagged.

        Args:
            training_data: The NLU training data.

        Returns:
            The same training data.
        """
        for example in training_data.training_examples:
            text = example.get(TEXT)
            if isinstance(text, str) and len(text) > self._limit:
                example.set(TEXT, cut_text(text, self._limit))
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Cut each message's text to the limit (in place) and flag the cut ones.

        Args:
            messages: The messages to parse (only TEXT is looked at).

        Returns:
            The same messages.
        """
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or len(text) <= self._limit:
                continue
            message.set(TEXT, cut_text(text, self._limit))
            message.set(TRUNCATED_KEY, True, add_to_output=True)
            message.set(ORIGINAL_LENGTH_KEY, len(text), add_to_output=True)
        return messages
