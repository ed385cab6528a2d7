"""Evaluate FAQ retrievers on query sets, against two baselines, and calibrate thresholds.

A query file is JSON lines `{"query": "...", "expected_id": "faq-id" | null}`; null marks an
out-of-scope question the assistant should decline. In-scope metrics count a declined query as
a miss.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from helpdesk.knowledge.embedders import Embedder
from helpdesk.knowledge.models import FaqEntry

#: Threshold used by a baseline before it is calibrated.
BASELINE_DEFAULT_THRESHOLD = 0.5


class EvalError(ValueError):
    """A query file is malformed (message names the file and the line)."""


@dataclass(frozen=True)
class EvalQuery:
    """One evaluation query; `expected_id` None means out of scope."""

    query: str
    expected_id: str | None


class RankingRetriever(Protocol):
    """What `evaluate` needs: ranked ids with scores, and a threshold to decline."""

    threshold: float | None

    def search(self, query: str, k: int = 5) -> Sequence[Any]:
        """Matches with `.entry.id` and `.score`, best first."""
        ...


def load_queries(path: Path, known_ids: set[str] | None = None) -> list[EvalQuery]:
    """Read a JSON-lines query file.

    Args:
        path: The file.
        known_ids: When given, an `expected_id` outside this set is an error.

    Raises:
        EvalError: For a missing file, bad JSON, a missing query or an unknown expected id.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    queries: list[EvalQuery] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise EvalError(f"{path} line {number}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            raise EvalError(f'{path} line {number}: needs a "query" text')
        expected = data.get("expected_id")
        if expected is not None and not isinstance(expected, str):
            raise EvalError(f'{path} line {number}: "expected_id" must be text or null')
        if expected is not None and known_ids is not None and expected not in known_ids:
            raise EvalError(
                f"{path} line {number}: expected_id {expected!r} is not an FAQ id of the source"
            )
        queries.append(EvalQuery(query=data["query"], expected_id=expected or None))
    if not queries:
        raise EvalError(f"{path}: holds no queries")
    return queries


@dataclass(frozen=True)
class Ranked:
    ids: list[str]
    scores: list[float]


def _rank(retriever: RankingRetriever, query: str, k: int) -> Ranked:
    answer = getattr(retriever, "answer", None)
    if answer is not None:
        result = answer(query)
        if getattr(result, "reason", "") == "empty":
            return Ranked(ids=[], scores=[])
        matches = list(result.candidates)
        if len(matches) >= min(k, 5):  # the figures need the top 5 only
            return Ranked(ids=[m.entry.id for m in matches], scores=[m.score for m in matches])
    found = list(retriever.search(query, k=k)) if query.strip() else []
    return Ranked(ids=[m.entry.id for m in found], scores=[float(m.score) for m in found])


def metrics_from_rankings(
    queries: Sequence[EvalQuery], rankings: Sequence[Ranked], threshold: float
) -> dict[str, Any]:
    """Compute the evaluation figures from ranked results and a decline threshold."""
    inscope = [(q, r) for q, r in zip(queries, rankings, strict=True) if q.expected_id is not None]
    oos = [(q, r) for q, r in zip(queries, rankings, strict=True) if q.expected_id is None]
    top1 = recall5 = rr = declined = 0.0
    for q, r in inscope:
        answered = bool(r.scores) and r.scores[0] >= threshold
        if not answered:
            declined += 1
            continue
        if r.ids[0] == q.expected_id:
            top1 += 1
        if q.expected_id in r.ids[:5]:
            recall5 += 1
            rr += 1.0 / (r.ids.index(q.expected_id) + 1)
    oos_declined = sum(1 for _, r in oos if not r.scores or r.scores[0] < threshold)
    n = len(inscope)
    result: dict[str, Any] = {
        "n": n,
        "top1": round(top1 / n, 4) if n else 0.0,
        "recall_at_5": round(recall5 / n, 4) if n else 0.0,
        "mrr": round(rr / n, 4) if n else 0.0,
        "no_answer_rate": round(declined / n, 4) if n else 0.0,
        "oos_n": len(oos),
        "oos_declined_rate": round(oos_declined / len(oos), 4) if oos else None,
        "threshold": round(float(threshold), 4),
    }
    total = len(queries)
    correct = top1 + oos_declined
    result["n_total"] = total
    result["accuracy"] = round(correct / total, 4) if total else 0.0
    return result


def rank_all(
    retriever: RankingRetriever, queries: Sequence[EvalQuery], k: int = 10
) -> list[Ranked]:
    """Rankings of every query (k best ids and scores each)."""
    return [_rank(retriever, q.query, k) for q in queries]


def calibrate_threshold(
    queries: Sequence[EvalQuery], rankings: Sequence[Ranked], *, oos_weight: float = 1.0
) -> float:
    """The decline threshold that maximises correct decisions on a labelled set.

    A correct decision is an in-scope query answered with the right FAQ, or an out-of-scope
    query declined (weighted by `oos_weight`). Ties go to the middle of the best interval.
    """
    best_scores = sorted({r.scores[0] for r in rankings if r.scores})
    if not best_scores:
        return BASELINE_DEFAULT_THRESHOLD
    cuts = [best_scores[0] - 1e-6]
    cuts += [(a + b) / 2 for a, b in zip(best_scores, best_scores[1:], strict=False)]
    cuts.append(best_scores[-1] + 1e-6)
    values = []
    for cut in cuts:
        gain = 0.0
        for q, r in zip(queries, rankings, strict=True):
            answered = bool(r.scores) and r.scores[0] >= cut
            if q.expected_id is None:
                gain += oos_weight * (not answered)
            elif answered and r.ids[0] == q.expected_id:
                gain += 1
        values.append(gain)
    top = max(values)
    winners = [c for c, v in zip(cuts, values, strict=True) if v == top]
    return float(winners[len(winners) // 2])


def evaluate(
    entries: Sequence[FaqEntry],
    queries: Sequence[EvalQuery],
    retriever_factory: Callable[[Sequence[FaqEntry]], RankingRetriever],
    *,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Run every query through a retriever built by `retriever_factory(entries)`.

    Args:
        entries: The knowledge base.
        queries: Labelled queries.
        retriever_factory: Builds the retriever under test.
        threshold: Override of the retriever's own threshold.

    Returns:
        n, top1, recall_at_5, mrr, no_answer_rate (in-scope queries; declined = miss),
        oos_n, oos_declined_rate, threshold, n_total, accuracy, p50_ms, p95_ms.
    """
    retriever = retriever_factory(entries)
    started: list[float] = []
    rankings: list[Ranked] = []
    for q in queries:
        t0 = time.perf_counter()
        rankings.append(_rank(retriever, q.query, 10))
        started.append((time.perf_counter() - t0) * 1000)
    cut = threshold if threshold is not None else getattr(retriever, "threshold", None)
    if cut is None:
        cut = BASELINE_DEFAULT_THRESHOLD
    result = metrics_from_rankings(queries, rankings, float(cut))
    result["p50_ms"] = round(float(np.percentile(started, 50)), 2)
    result["p95_ms"] = round(float(np.percentile(started, 95)), 2)
    return result


# -- baselines -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _BaselineMatch:
    entry: FaqEntry
    score: float


class _RowMaxRetriever:
    """Shared ranking for baselines: max similarity over an entry's question rows."""

    threshold: float | None

    def __init__(self, entries: Sequence[FaqEntry], threshold: float | None) -> None:
        self.entries = list(entries)
        self.threshold = threshold if threshold is not None else BASELINE_DEFAULT_THRESHOLD
        self.row_entry = [i for i, e in enumerate(self.entries) for _ in e.questions]
        self.row_text = [t for e in self.entries for t in e.questions]

    def _row_scores(self, query: str) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def search(self, query: str, k: int = 5) -> list[_BaselineMatch]:
        rows = self._row_scores(query)
        best = np.full(len(self.entries), -1.0)
        np.maximum.at(best, np.asarray(self.row_entry), rows)
        order = np.argsort(-best, kind="stable")[:k]
        return [_BaselineMatch(self.entries[int(i)], float(best[i])) for i in order]


class TfidfCharBaseline(_RowMaxRetriever):
    """TF-IDF over character n-grams (char_wb, 2-5) of questions and alternatives, cosine."""

    def __init__(self, entries: Sequence[FaqEntry], threshold: float | None = None) -> None:
        super().__init__(entries, threshold)
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), lowercase=True, sublinear_tf=True
        )
        self._matrix = self._vectorizer.fit_transform(self.row_text)

    def _row_scores(self, query: str) -> np.ndarray:
        vector = self._vectorizer.transform([query])
        return np.asarray((self._matrix @ vector.T).toarray()).ravel()


class DenseBaseline(_RowMaxRetriever):
    """The raw embedding model alone: cosine between the raw query and questions."""

    def __init__(
        self, entries: Sequence[FaqEntry], embedder: Embedder, threshold: float | None = None
    ) -> None:
        super().__init__(entries, threshold)
        self._embedder = embedder
        self._matrix = embedder.embed_passages(self.row_text)

    def _row_scores(self, query: str) -> np.ndarray:
        return self._matrix @ self._embedder.embed_queries([query])[0]


#: Decline thresholds of the baselines, calibrated on knowledge_base/eval/dev.jsonl.
BASELINE_THRESHOLDS = {"tfidf_char": 0.3534, "e5_raw": 0.8777}


def baseline_factories(
    embedder: Embedder, thresholds: dict[str, float] | None = None
) -> dict[str, Callable[[Sequence[FaqEntry]], RankingRetriever]]:
    """Factories of the two baselines, keyed "tfidf_char" and "e5_raw"."""
    cuts = {**BASELINE_THRESHOLDS, **(thresholds or {})}
    return {
        "tfidf_char": lambda entries: TfidfCharBaseline(entries, cuts["tfidf_char"]),
        "e5_raw": lambda entries: DenseBaseline(entries, embedder, cuts["e5_raw"]),
    }
