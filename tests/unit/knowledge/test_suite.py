"""The multi-set retrieval table: foreign questions as out of scope, ranking-only peers, means."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk.knowledge.evaluation import EvalQuery, TfidfCharBaseline
from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.suite import (
    EvalSet,
    discover_sets,
    format_table,
    run_suite,
    with_foreign_queries,
)


def entry(faq_id: str, question: str) -> FaqEntry:
    return FaqEntry(id=faq_id, category="X", question=question, alternatives=[], answer="-")


TAX = EvalSet(
    "tax",
    [entry("npwp", "cara membuat npwp"), entry("spt", "cara lapor spt tahunan")],
    [
        EvalQuery("bikin npwp gimana", "npwp"),
        EvalQuery("lapor spt tahunan", "spt"),
        EvalQuery("resep nasi goreng", None),
    ],
)
POWER = EvalSet(
    "power",
    [entry("token", "cara beli token listrik"), entry("meter", "meteran listrik rusak")],
    [EvalQuery("beli token listrik dimana", "token"), EvalQuery("meteran rusak", "meter")],
)


def test_other_sets_questions_become_out_of_scope() -> None:
    tax, power = with_foreign_queries([TAX, POWER], per_set=1)
    assert [q for q in tax.queries if q.expected_id is None] == [
        EvalQuery("resep nasi goreng", None),
        EvalQuery("beli token listrik dimana", None),
    ]
    assert [q.query for q in power.queries if q.expected_id is None] == ["bikin npwp gimana"]
    assert len(with_foreign_queries([TAX, POWER])[0].queries) == 3 + 2  # all when fewer


class Declines(TfidfCharBaseline):
    """TF-IDF with a threshold high enough to decline the foreign and out-of-scope questions."""

    def __init__(self, entries) -> None:
        super().__init__(entries, threshold=0.35)


def test_peers_only_rank_and_the_table_has_a_mean_per_system() -> None:
    sets = with_foreign_queries([TAX, POWER])
    rows = run_suite(
        sets, {"declining": (Declines, True), "tfidf_char": (TfidfCharBaseline, False)}
    )
    assert [(r.set, r.system) for r in rows] == [
        ("tax", "declining"),
        ("tax", "tfidf_char"),
        ("power", "declining"),
        ("power", "tfidf_char"),
        ("mean", "declining"),
        ("mean", "tfidf_char"),
    ]
    peer = rows[1]
    assert peer.in_declined is None and peer.oos_declined is None and peer.top1 == 1.0
    declining = rows[0]
    assert declining.oos_n == 3 and declining.oos_declined is not None
    assert declining.oos_declined > 0.5
    mean = rows[4]
    assert mean.n == 4 and mean.top1 == pytest.approx((rows[0].top1 + rows[2].top1) / 2, abs=1e-4)
    table = format_table(rows)
    assert table.splitlines()[0].split() == [
        "set",
        "system",
        "n",
        "oos",
        "top1",
        "r@5",
        "mrr",
        "in-decl",
        "oos-decl",
    ]
    assert " - " in table.splitlines()[2] + " "


def test_sets_are_found_by_their_two_files(tmp_path: Path) -> None:
    folder = tmp_path / "clinic"
    folder.mkdir()
    (folder / "kb.yml").write_text(
        "version: 1\nfaqs:\n  - id: jam\n    category: Umum\n"
        "    question: Jam buka klinik?\n    answer: Pukul 08.00-15.00.\n",
        encoding="utf-8",
    )
    (folder / "queries.jsonl").write_text(
        '{"query": "klinik buka jam berapa", "expected_id": "jam"}\n', encoding="utf-8"
    )
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "kb.yml").write_text("version: 1\nfaqs: []\n", encoding="utf-8")
    (found,) = discover_sets(tmp_path)
    assert found.name == "clinic" and [e.id for e in found.entries] == ["jam"]
    assert discover_sets(tmp_path / "missing") == []
