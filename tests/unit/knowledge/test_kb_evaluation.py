"""Evaluation metrics on a toy set, threshold calibration, query files, baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpdesk.knowledge.evaluation import (
    DenseBaseline,
    EvalError,
    EvalQuery,
    Ranked,
    TfidfCharBaseline,
    calibrate_threshold,
    evaluate,
    load_queries,
    metrics_from_rankings,
)
from helpdesk.knowledge.index_build import build_index
from helpdesk.knowledge.retriever import Retriever, ScoringModel

QUERIES = [
    EvalQuery("q1", "a"),  # right at rank 1, confident
    EvalQuery("q2", "b"),  # right at rank 2
    EvalQuery("q3", "c"),  # right at rank 1 but below the threshold: a miss
    EvalQuery("q4", "d"),  # not in the top 5
    EvalQuery("oos1", None),  # declined: correct
    EvalQuery("oos2", None),  # answered: wrong
]
RANKINGS = [
    Ranked(["a", "x"], [0.9, 0.2]),
    Ranked(["x", "b"], [0.8, 0.7]),
    Ranked(["c", "x"], [0.3, 0.1]),
    Ranked(["x", "y", "z", "v", "w", "d"], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]),
    Ranked(["x"], [0.2]),
    Ranked(["y"], [0.95]),
]


def test_metrics_count_declined_in_scope_queries_as_misses() -> None:
    result = metrics_from_rankings(QUERIES, RANKINGS, threshold=0.5)

    assert result["n"] == 4 and result["n_total"] == 6
    assert result["top1"] == 0.25
    assert result["recall_at_5"] == 0.5
    assert result["mrr"] == pytest.approx((1 + 0.5) / 4, abs=1e-4)
    assert result["no_answer_rate"] == 0.25
    assert result["oos_n"] == 2 and result["oos_declined_rate"] == 0.5
    assert result["accuracy"] == pytest.approx(2 / 6, abs=1e-4)


def test_calibrate_threshold_maximises_correct_decisions() -> None:
    cut = calibrate_threshold(QUERIES, RANKINGS)
    result = metrics_from_rankings(QUERIES, RANKINGS, cut)
    # Best achievable: q1 and q3 answered right, oos1 declined (oos2 outscores everything).
    assert result["top1"] == 0.5
    assert result["oos_declined_rate"] == 0.5
    assert 0.2 < cut <= 0.3


def test_load_queries_reads_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        json.dumps({"query": "gmn reset pw", "expected_id": "a"})
        + "\n\n"
        + json.dumps({"query": "harga cabai", "expected_id": None})
        + "\n",
        encoding="utf-8",
    )
    assert load_queries(path, known_ids={"a"}) == [
        EvalQuery("gmn reset pw", "a"),
        EvalQuery("harga cabai", None),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "line 1: not valid JSON"),
        ('{"expected_id": "a"}', 'line 1: needs a "query"'),
        ('{"query": "x", "expected_id": "zzz"}', "'zzz' is not an FAQ id"),
    ],
)
def test_load_queries_errors_name_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(EvalError) as err:
        load_queries(path, known_ids={"a"})
    assert "q.jsonl" in str(err.value) and expected in str(err.value)


def test_evaluate_runs_a_retriever_and_both_baselines(entries, fake_embedder) -> None:
    queries = [
        EvalQuery("lupa password sakti", "sakti-reset-password"),
        EvalQuery("apa itu sp2d", "sp2d-pengertian"),
        EvalQuery("daftar domain co.id", "domain-daftar"),
        EvalQuery("harga cabai hari ini", None),
    ]
    scoring = ScoringModel(
        weights={"question": 5.0, "query_coverage": 4.0, "question_coverage": 1.0},
        bias=-6.0,
        threshold=0.6,
    )

    def factory(items):
        return Retriever(build_index(items, fake_embedder, None), fake_embedder, scoring=scoring)

    result = evaluate(entries, queries, factory)
    assert result["top1"] == 1.0 and result["oos_declined_rate"] == 1.0
    assert result["p50_ms"] >= 0

    tfidf = evaluate(entries, queries, lambda items: TfidfCharBaseline(items, 0.3))
    assert tfidf["n"] == 3 and 0.0 <= tfidf["top1"] <= 1.0
    dense = evaluate(entries, queries, lambda items: DenseBaseline(items, fake_embedder, 0.9))
    assert dense["recall_at_5"] == 1.0
