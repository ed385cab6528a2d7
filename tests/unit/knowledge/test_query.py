"""The query embedding carried from the NLU pipeline to the retriever (helpdesk/knowledge/query)."""

from __future__ import annotations

import numpy as np
import pytest

from helpdesk.knowledge.index_build import build_index
from helpdesk.knowledge.query import QueryEmbedding, embedding_text
from helpdesk.knowledge.retriever import Retriever


def test_an_embedding_survives_its_json_form() -> None:
    vector = np.array([0.5, -0.25, 1e-7, 0.75], dtype=np.float32)
    data = QueryEmbedding("fake-4d", "lupa password sakti", vector).to_json()

    back = QueryEmbedding.from_json(data)

    assert back is not None
    assert back.model == "fake-4d" and back.text == "lupa password sakti"
    assert back.vector.dtype == np.float32
    np.testing.assert_array_equal(back.vector, vector)
    assert back.matches("fake-4d", "lupa password sakti", 4)
    assert not back.matches("other-model", "lupa password sakti", 4)
    assert not back.matches("fake-4d", "another text", 4)
    assert not back.matches("fake-4d", "lupa password sakti", 384)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "vector",
        {"model": "m", "text": "t"},
        {"model": "m", "text": "t", "vector": "not base64!"},
        {"model": "m", "text": "t", "vector": "AAA="},  # 2 bytes: not whole float32s
        {"model": "m", "text": "t", "vector": ""},
        {"model": 1, "text": "t", "vector": "AAAAAA=="},
        {"model": "m", "text": "t", "vector": "AADAfw=="},  # NaN
    ],
)
def test_a_malformed_embedding_is_ignored(data) -> None:
    assert QueryEmbedding.from_json(data) is None


def test_the_retriever_reuses_a_matching_embedding_and_only_that(entries, fake_embedder) -> None:
    retriever = Retriever(build_index(entries, fake_embedder, None), fake_embedder)
    question = "gmn cr reset pw sakti"
    text = embedding_text(question)
    vector = fake_embedder.embed_queries([text])[0]
    expected = retriever.answer(question)

    fake_embedder.calls.clear()
    reused = retriever.answer(question, QueryEmbedding(fake_embedder.name, text, vector))
    assert fake_embedder.calls == []
    assert reused.best.entry.id == expected.best.entry.id
    assert reused.best.score == pytest.approx(expected.best.score)

    for stale in (
        QueryEmbedding("another-model", text, vector),
        QueryEmbedding(fake_embedder.name, "apa itu sp2d", vector),
    ):
        fake_embedder.calls.clear()
        answer = retriever.answer(question, stale)
        assert fake_embedder.calls == [[text]]
        assert answer.best.entry.id == expected.best.entry.id
