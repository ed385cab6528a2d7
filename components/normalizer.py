"""A whitespace tokenizer that normalises informal Indonesian spelling token by token.

Citizens write "gmn cr reset pw sakti min"; the featurizers should see "bagaimana cara reset
password sakti". Rewriting the message text itself would break entity offsets and change the
text stored in the tracker, so this component keeps the text and each token's character
offsets untouched and only replaces the token's text (which the featurizers read) with its
normalised form from `helpdesk.knowledge.normalize.normalize` (the same dictionary the
knowledge-base retriever uses, so there is one slang list to maintain).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from helpdesk.knowledge.normalize import normalize


@lru_cache(maxsize=50_000)
def normalize_word(word: str) -> tuple[str, ...]:
    """Normalised form of one token, as words.

    Words the normaliser drops entirely (particles such as "ya", "min", greetings such as
    "halo") keep their lower-cased original: for intent classification "ya" is the whole
    message, not noise.

    Args:
        word: One token as the whitespace tokenizer produced it.

    Returns:
        One or more lower-case words.
    """
    words = tuple(normalize(word).split())
    return words or (word.lower(),)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class IndonesianNormalizingTokenizer(WhitespaceTokenizer):
    """Whitespace tokenizer whose tokens carry normalised Indonesian spelling.

    Config (besides WhitespaceTokenizer's):
        normalize_attributes: message attributes whose tokens are normalised
            (default: only the user text).
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Returns the component's default config."""
        return {
            **WhitespaceTokenizer.get_default_config(),
            "normalize_attributes": [TEXT],
        }

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IndonesianNormalizingTokenizer:
        """Creates a new component (see parent class for full docstring)."""
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> List[Token]:
        """Tokenizes on whitespace, then normalises each token's text.

        A token that normalises to several words ("dll" -> "dan lain lain") becomes several
        tokens sharing the original character span, so entity offsets stay valid.

        Args:
            message: The message to tokenize.
            attribute: The attribute (e.g. "text") to tokenize.

        Returns:
            The tokens, with original `start`/`end` offsets.
        """
        tokens = super().tokenize(message, attribute)
        if attribute not in self._config["normalize_attributes"]:
            return tokens
        normalized: List[Token] = []
        for token in tokens:
            words = normalize_word(token.text)
            if words == (token.text.lower(),):
                normalized.append(token)
                continue
            for word in words:
                normalized.append(Token(word, token.start, token.end, data=token.data))
        return normalized
