"""BlendedIntentClassifier: learns from few examples, calibrates, persists, blends with DIET."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.intent_blend import BLEND_KEY, BlendedIntentClassifier, fit_temperature
from helpdesk.knowledge.query import QUERY_EMBEDDING_KEY, QueryEmbedding, embedding_text

EXAMPLES = {
    "greet": ["halo", "selamat pagi", "hai min", "assalamualaikum", "pagi kak"],
    "sakti_service": [
        "reset password sakti",
        "lupa kata sandi sakti",
        "akun sakti saya terkunci",
        "tolong reset pw sakti",
        "mfa sakti tidak bisa",
    ],
    "check_ticket_status": [
        "cek status tiket",
        "bagaimana status laporan saya",
        "tiket saya sudah diproses belum",
        "lihat status pengaduan",
        "status tiket 20260414-DBKSWU",
    ],
}


def _data(examples=EXAMPLES) -> TrainingData:
    return TrainingData(
        training_examples=[
            Message(data={TEXT: text, INTENT: intent})
            for intent, texts in examples.items()
            for text in texts
        ]
    )


def _component(tmp_path, **config) -> tuple[BlendedIntentClassifier, LocalModelStorage]:
    storage = LocalModelStorage(tmp_path)
    full = {**BlendedIntentClassifier.get_default_config(), "use_e5": False, **config}
    component = BlendedIntentClassifier.create(
        full, storage, Resource("blend"), ExecutionContext({}, node_name="blend")
    )
    return component, storage


def _parse(component, text: str, diet: dict[str, float] | None = None) -> Message:
    message = Message(data={TEXT: text})
    if diet:
        top = max(diet, key=diet.get)
        message.set(INTENT, {"name": top, "confidence": diet[top]})
        ranking = [{"name": n, "confidence": c} for n, c in diet.items()]
        message.set(INTENT_RANKING_KEY, ranking)
    component.process([message])
    return message


def test_alone_it_classifies_unseen_informal_wordings(tmp_path):
    component, _ = _component(tmp_path)
    component.train(_data())

    assert _parse(component, "gmn cr reset pw sakti").get(INTENT)["name"] == "sakti_service"
    assert _parse(component, "halo selamat siang").get(INTENT)["name"] == "greet"
    assert _parse(component, "sttus tiket sy gmn").get(INTENT)["name"] == "check_ticket_status"


def test_a_trained_model_loads_with_the_same_probabilities(tmp_path):
    component, storage = _component(tmp_path)
    component.train(_data())
    texts = ["reset sakti", "halo kak", "status tiket saya"]
    before = component.probabilities(texts)

    loaded = BlendedIntentClassifier.load(
        {**BlendedIntentClassifier.get_default_config(), "use_e5": False},
        storage,
        Resource("blend"),
        ExecutionContext({}, node_name="blend"),
    )

    np.testing.assert_allclose(loaded.probabilities(texts), before, rtol=1e-5, atol=1e-6)
    assert loaded._full.temperature == pytest.approx(component._full.temperature)


def test_weight_zero_keeps_diet_and_weight_one_follows_the_linear_model(tmp_path):
    diet = {"greet": 0.8, "sakti_service": 0.15, "check_ticket_status": 0.05}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    keep, _ = _component(tmp_path / "a", weight=0.0)
    keep.train(_data())
    follow, _ = _component(tmp_path / "b", weight=1.0)
    follow.train(_data())

    assert _parse(keep, "reset password sakti", diet).get(INTENT)["name"] == "greet"
    message = _parse(follow, "reset password sakti", diet)
    assert message.get(INTENT)["name"] == "sakti_service"
    assert message.get(BLEND_KEY)["diet"] == "greet"
    assert message.get(BLEND_KEY)["linear"] == "sakti_service"


def test_the_blend_is_a_ranked_distribution(tmp_path):
    component, _ = _component(tmp_path, weight=0.5)
    component.train(_data())
    diet = {"greet": 0.5, "sakti_service": 0.3, "check_ticket_status": 0.2}

    message = _parse(component, "akun sakti terkunci", diet)

    confidences = [r["confidence"] for r in message.get(INTENT_RANKING_KEY)]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert message.get(INTENT)["confidence"] == pytest.approx(confidences[0])
    assert message.get(INTENT)["name"] == "sakti_service"  # the linear model outweighs a weak DIET


def test_two_intents_are_enough(tmp_path):
    component, _ = _component(tmp_path)
    component.train(_data({k: EXAMPLES[k] for k in ("greet", "sakti_service")}))

    probabilities = component.probabilities(["reset sakti"])[0]
    assert probabilities.shape == (2,)
    assert component._classes[int(np.argmax(probabilities))] == "sakti_service"


def test_with_fewer_than_two_intents_messages_are_left_alone(tmp_path):
    component, _ = _component(tmp_path)
    component.train(_data({"greet": EXAMPLES["greet"]}))

    message = _parse(component, "halo", {"greet": 0.9, "sakti_service": 0.1})

    assert message.get(INTENT) == {"name": "greet", "confidence": 0.9}
    assert message.get(BLEND_KEY) is None


def test_e5_features_come_from_the_encoder_and_are_cached_per_text(tmp_path):
    calls: list[list[str]] = []

    def encoder(texts):
        calls.append(list(texts))
        rng = np.random.default_rng(abs(hash(tuple(texts))) % 2**32)
        vectors = rng.normal(size=(len(texts), 384)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    storage = LocalModelStorage(tmp_path)
    config = {**BlendedIntentClassifier.get_default_config(), "use_e5": True}
    component = BlendedIntentClassifier(config, storage, Resource("blend"), encoder=encoder)
    component.train(_data())
    calls.clear()

    component.probabilities(["reset sakti"])
    component.probabilities(["reset sakti"])

    assert calls == [["reset sakti"]]


def test_calibration_sharpens_under_confident_scores():
    truth = np.array([0, 1, 2] * 20)
    scores = np.full((60, 3), 0.0)
    scores[np.arange(60), truth] = 0.3  # always right, by a small margin

    assert fit_temperature(scores, truth) < 0.2
    assert fit_temperature(scores[:0], truth[:0]) == 1.0


@pytest.mark.parametrize("config", [{"weight": 1.5}, {"min_ngram": 5, "max_ngram": 2}, {"C": 0}])
def test_bad_config_is_refused(config):
    with pytest.raises(ValueError):
        BlendedIntentClassifier.validate_config(config)


def test_the_e5_vector_goes_to_the_parse_data_for_the_action_server(tmp_path):
    class NamedEncoder:
        name = "fake-e5"

        def __call__(self, texts):
            vectors = np.ones((len(texts), 384), dtype=np.float32)
            vectors[:, 0] = [len(t) for t in texts]
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    storage = LocalModelStorage(tmp_path)
    config = {**BlendedIntentClassifier.get_default_config(), "use_e5": True}
    component = BlendedIntentClassifier(config, storage, Resource("blend"), encoder=NamedEncoder())
    component.train(_data())

    message = _parse(component, "Gmn cr reset PW sakti?")

    shared = QueryEmbedding.from_json(message.get(QUERY_EMBEDDING_KEY))
    assert shared is not None and shared.model == "fake-e5"
    assert shared.text == embedding_text("Gmn cr reset PW sakti?")  # what the retriever embeds
    np.testing.assert_allclose(shared.vector, NamedEncoder()([shared.text])[0], rtol=1e-6)
    assert QUERY_EMBEDDING_KEY in message.as_dict(only_output_properties=True)


class _CountingEncoder:
    name = "fake-e5"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, texts):
        self.texts += list(texts)
        rng = np.random.default_rng(len(self.texts))
        vectors = rng.normal(size=(len(texts), 384)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_sure_agreement_of_diet_and_char_ngrams_needs_no_e5(tmp_path):
    encoder = _CountingEncoder()
    storage = LocalModelStorage(tmp_path)
    config = {
        **BlendedIntentClassifier.get_default_config(),
        "use_e5": True,
        "skip_e5_above": 0.5,
    }
    component = BlendedIntentClassifier(config, storage, Resource("blend"), encoder=encoder)
    component.train(_data())
    encoder.texts.clear()

    sure = _parse(component, "halo selamat pagi", {"greet": 0.97, "sakti_service": 0.03})
    assert sure.get(BLEND_KEY)["head"] == "char"
    assert sure.get(QUERY_EMBEDDING_KEY) is None
    assert encoder.texts == []

    disputed = _parse(component, "reset password sakti", {"greet": 0.6, "sakti_service": 0.4})
    assert disputed.get(BLEND_KEY)["head"] == "full"
    assert disputed.get(QUERY_EMBEDDING_KEY) is not None
    assert encoder.texts == [embedding_text("reset password sakti")]

    loaded = BlendedIntentClassifier.load(
        config, storage, Resource("blend"), ExecutionContext({}, node_name="blend")
    )
    assert loaded._char is not None
    assert loaded._char.temperature == pytest.approx(component._char.temperature)
    np.testing.assert_allclose(
        loaded.probabilities(["halo kak"], char_only=True),
        component.probabilities(["halo kak"], char_only=True),
        rtol=1e-5,
    )
