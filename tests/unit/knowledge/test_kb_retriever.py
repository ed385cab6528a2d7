"""Retriever logic with a 4-d fake embedder: ranking, threshold, related, empty, validation."""

from __future__ import annotations

import pytest

from helpdesk.knowledge.index_build import build_index
from helpdesk.knowledge.retriever import Answer, Retriever, ScoringModel

#: A scoring for the fake embedder's cosines (0..1): dense dominates, lexical breaks ties.
SCORING = ScoringModel(
    weights={"question": 5.0, "query_coverage": 4.0, "question_coverage": 1.0},
    bias=-6.0,
    threshold=0.6,
)


@pytest.fixture
def retriever(entries, fake_embedder) -> Retriever:
    index = build_index(entries, fake_embedder, None)
    return Retriever(index, fake_embedder, scoring=SCORING)


def test_search_ranks_the_matching_faq_first_and_deduplicates(retriever) -> None:
    matches = retriever.search("gmn cr reset pw sakti min", k=5)

    ids = [m.entry.id for m in matches]
    assert ids[0] == "sakti-reset-password"  # lexical "sakti" beats DIGIT on equal cosine
    assert ids[1] == "digit-reset-password"
    assert len(ids) == len(set(ids)) == 5  # one match per FAQ although it has 3 vectors
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_search_respects_k_and_validates_it(retriever) -> None:
    assert len(retriever.search("sp2d", k=2)) == 2
    assert retriever.search("   ") == []
    with pytest.raises(ValueError, match="k must be > 0"):
        retriever.search("sp2d", k=0)


def test_answer_with_related_close_alternatives(retriever) -> None:
    answer = retriever.answer("reset password sakti")

    assert isinstance(answer, Answer)
    assert answer.answered and answer.reason == "answered"
    assert answer.best.entry.id == "sakti-reset-password"
    assert [m.entry.id for m in answer.related] == ["digit-reset-password"]
    assert answer.candidates[0] == answer.best


def test_far_alternatives_are_not_related(entries, fake_embedder) -> None:
    index = build_index(entries, fake_embedder, None)
    index.manifest["near_duplicates"] = []  # the 4-d fake cannot tell SAKTI from DIGIT
    retriever = Retriever(index, fake_embedder, scoring=SCORING)
    answer = retriever.answer("lupa password sakti")  # DIGIT shares only "password"

    assert answer.best.entry.id == "sakti-reset-password"
    assert answer.related == []


def test_answer_declines_below_threshold(retriever) -> None:
    answer = retriever.answer("berapa harga cabai di pasar")

    assert not answer.answered
    assert answer.reason == "low_confidence"
    assert answer.best is None and answer.related == []
    assert answer.candidates  # still shown to developers / for "did you mean"


def test_answer_without_content_words_is_empty(retriever, fake_embedder) -> None:
    calls = len(fake_embedder.calls)
    answer = retriever.answer("mau tanya dong min")

    assert answer.reason == "empty" and not answer.answered
    assert answer.candidates == []
    assert len(fake_embedder.calls) == calls  # no model call for an empty question


def test_threshold_argument_overrides_the_calibrated_one(entries, fake_embedder) -> None:
    index = build_index(entries, fake_embedder, None)
    strict = Retriever(index, fake_embedder, scoring=SCORING, threshold=0.999)
    assert strict.answer("lupa password sakti").reason == "low_confidence"
    assert strict.threshold == 0.999


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 0.0}, {"threshold": 1.5}, {"max_related": -1}, {"candidate_rows": 0}],
)
def test_constructor_validates_arguments(entries, fake_embedder, kwargs) -> None:
    index = build_index(entries, fake_embedder, None)
    with pytest.raises(ValueError):
        Retriever(index, fake_embedder, scoring=SCORING, **kwargs)


def test_constructor_rejects_an_embedder_the_index_was_not_built_with(entries, fake_embedder):
    index = build_index(entries, fake_embedder, None)

    class Other(type(fake_embedder)):
        name = "other"

    with pytest.raises(ValueError, match="built with embedder"):
        Retriever(index, Other())


def test_max_related_zero_gives_no_related(entries, fake_embedder) -> None:
    index = build_index(entries, fake_embedder, None)
    retriever = Retriever(index, fake_embedder, scoring=SCORING, max_related=0)
    assert retriever.answer("lupa password sakti").related == []


def test_answer_entry_answers_the_named_faq_with_its_neighbours(retriever) -> None:
    answer = retriever.answer_entry("sakti-reset-password")

    assert answer is not None and answer.answered
    assert answer.best.entry.id == "sakti-reset-password" and answer.best.score == 1.0
    assert answer.query == answer.best.entry.question
    assert "sakti-reset-password" not in [m.entry.id for m in answer.related]
    assert retriever.answer_entry("no-such-faq") is None
