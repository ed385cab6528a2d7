"""Self-calibration of the decline threshold on the knowledge base itself."""

from __future__ import annotations

import numpy as np
import pytest

from helpdesk.knowledge import calibration
from helpdesk.knowledge.calibration import (
    MAX_PROBE_DECLINE,
    Calibration,
    calibrate,
    informal_rewrites,
    out_of_scope_questions,
)
from helpdesk.knowledge.evaluation import EvalQuery
from helpdesk.knowledge.index_build import build_index
from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.normalize import normalize
from helpdesk.knowledge.retriever import DEFAULT_SCORING, Retriever


def test_informal_rewrites_are_chat_spelling_and_keywords() -> None:
    chat, keywords = informal_rewrites("Bagaimana cara reset password yang terkunci?")
    assert chat == "gmn cr reset password yg terkunci"
    assert keywords.split() and len(keywords.split()) <= 3 and "bagaimana" not in keywords
    assert informal_rewrites("???") == []


def test_the_shipped_out_of_scope_questions_are_read_without_comments() -> None:
    questions = out_of_scope_questions()
    assert len(questions) >= 100 and not any(q.startswith("#") for q in questions)


def test_folds_hold_out_one_alternative_of_each_entry() -> None:
    entries = [
        FaqEntry("a", "X", "q a", "-", ("a1", "a2")),
        FaqEntry("b", "X", "q b", "-", ("b1",)),
        FaqEntry("c", "X", "q c", "-"),
    ]
    (kept0, probes0), (kept1, probes1) = calibration._folds(entries)
    assert probes0 == [EvalQuery("a1", "a"), EvalQuery("b1", "b")]
    assert [e.alternatives for e in kept0] == [("a2",), (), ()]
    assert probes1 == [EvalQuery("a2", "a")] and kept1[0].alternatives == ("a1",)


def test_probe_folds_reuse_the_index_vectors(entries, fake_embedder) -> None:
    index = build_index(entries, fake_embedder, None, progress=False)
    embedded = sum(len(call) for call in fake_embedder.calls)
    smaller = [FaqEntry(e.id, e.category, e.question, e.answer) for e in entries]
    sub = calibration._sub_index(index, smaller)
    assert sum(len(call) for call in fake_embedder.calls) == embedded  # nothing embedded again
    assert [t for t, k in zip(sub.row_text, sub.row_kind) if k == "question"] == [
        normalize(e.question) for e in entries
    ]
    assert len(sub.row_text) == 4 * len(entries)  # one row of each kind per entry
    for row, text in enumerate(sub.row_text):
        assert np.allclose(sub.row_vectors()[row], index.row_vectors()[index.row_text.index(text)])


def test_calibration_never_declines_most_answerable_probes(entries, fake_embedder) -> None:
    index = build_index(entries, fake_embedder, None, progress=False)
    fitted = calibrate(index, fake_embedder)
    lo, hi = calibration.THRESHOLD_RANGE
    assert lo <= fitted.threshold <= hi
    assert fitted.source == "probes" and fitted.in_scope > 0 and fitted.out_of_scope >= 100
    assert fitted.answer_rate >= 1 - MAX_PROBE_DECLINE - 1e-9
    assert Calibration.from_dict(fitted.as_dict()) == fitted
    assert "threshold" in fitted.summary() and "out-of-scope" in fitted.summary()


def test_labelled_queries_are_used_instead_of_probes(entries, fake_embedder) -> None:
    index = build_index(entries, fake_embedder, None, progress=False)
    labelled = [EvalQuery("lupa sandi login", entries[0].id), EvalQuery("resep rendang", None)]
    fitted = calibrate(index, fake_embedder, labelled=labelled)
    assert (fitted.source, fitted.in_scope, fitted.out_of_scope) == ("labelled", 1, 1)


def test_the_retriever_uses_the_threshold_fitted_at_build(entries, fake_embedder) -> None:
    plain = build_index(entries, fake_embedder, None, progress=False)
    assert Retriever(plain, fake_embedder).threshold == DEFAULT_SCORING.threshold
    fitted = build_index(entries, fake_embedder, None, progress=False, calibrate=True)
    expected = fitted.manifest["calibration"]["threshold"]
    assert Retriever(fitted, fake_embedder).threshold == pytest.approx(expected)
    assert Retriever(fitted, fake_embedder, threshold=0.7).threshold == 0.7  # explicit wins
