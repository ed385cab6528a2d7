"""Self-calibration of the decline threshold on a knowledge base, without labelled queries.

Every knowledge base scores differently: long formal questions, keyword-like ones, many or no
alternatives. A threshold fitted on one knowledge base declines a third of the answerable
questions of another. So `helpdesk kb build` fits the threshold on the knowledge base itself:

* **In-scope probes.** Each alternative of an entry, asked against the knowledge base *without*
  that alternative (leave-one-out: two folds, the index rows reused, nothing embedded twice),
  must find its entry; an entry without alternatives is probed with informal rewrites of its
  question (abbreviations, dropped function words, a few keywords only), as citizens write.
* **Out-of-scope probes.** Questions no public-service helpdesk answers
  (`data/out_of_scope.txt`: cooking, sport, weather, trivia, chit-chat).
* **The threshold** maximises right decisions (the right entry answered, an out-of-scope probe
  declined), but never declines more than `MAX_PROBE_DECLINE` of the in-scope probes: a new
  knowledge base must not decline most answerable questions.

With a labelled query file (`{"query", "expected_id" | null}` lines) the threshold is fitted on
it instead (`evaluation.calibrate_threshold`), under the same cap.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from helpdesk.knowledge.embedders import Embedder
from helpdesk.knowledge.evaluation import (
    EvalQuery,
    Ranked,
    calibrate_threshold,
    metrics_from_rankings,
)
from helpdesk.knowledge.index import KnowledgeIndex, rows_for
from helpdesk.knowledge.index_build import make_faiss
from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.normalize import content_tokens

#: Out-of-scope probe questions shipped with the package.
OUT_OF_SCOPE_FILE = Path(__file__).with_name("data") / "out_of_scope.txt"
#: The largest share of in-scope probes the fitted threshold may decline.
MAX_PROBE_DECLINE = 0.10
#: The share of out-of-scope probes the threshold declines (it sits at their quantile).
OOS_QUANTILE = 0.98
#: At most this many in-scope probes (a sample, for large knowledge bases).
MAX_PROBES = 600
#: Thresholds stay inside this range (the score is a probability-like number in [0, 1]).
THRESHOLD_RANGE = (0.02, 0.9)

#: Informal spellings citizens use, applied to a question to make an informal probe.
_INFORMAL = {
    "bagaimana": "gmn",
    "yang": "yg",
    "tidak": "tdk",
    "untuk": "utk",
    "dengan": "dgn",
    "sudah": "udh",
    "belum": "blm",
    "apakah": "apa",
    "saya": "sy",
    "bisa": "bs",
    "dapat": "bisa",
    "mengapa": "knp",
    "kenapa": "knp",
    "cara": "cr",
    "berapa": "brp",
    "tanggal": "tgl",
    "nomor": "no",
}
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Calibration:
    """What `calibrate` fitted and what it expects on questions like its probes.

    Attributes:
        threshold: The decline threshold fitted for this knowledge base.
        source: "probes" (self-calibration) or "labelled" (a labelled query file).
        in_scope: How many in-scope probes (or labelled in-scope queries) it used.
        out_of_scope: How many out-of-scope ones.
        answer_rate: Share of in-scope probes answered (not declined) at the threshold.
        top1: Share of in-scope probes answered with the right entry.
        decline_rate: Share of out-of-scope probes declined.
    """

    threshold: float
    source: str
    in_scope: int
    out_of_scope: int
    answer_rate: float
    top1: float
    decline_rate: float

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})

    def summary(self) -> str:
        """One line for `helpdesk kb build`."""
        return (
            f"calibrated on {self.in_scope} in-scope and {self.out_of_scope} out-of-scope "
            f"{'probes' if self.source == 'probes' else 'labelled queries'}: threshold "
            f"{self.threshold:.3f}; expected: {self.answer_rate:.0%} of answerable questions "
            f"answered ({self.top1:.0%} with the right entry), {self.decline_rate:.0%} of "
            "out-of-scope questions declined"
        )


def out_of_scope_questions(path: Path = OUT_OF_SCOPE_FILE) -> list[str]:
    """The shipped out-of-scope probe questions."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def informal_rewrites(question: str) -> list[str]:
    """Two informal versions of a question: spelled as chats are, and keywords only."""
    words = [w.lower() for w in _WORD.findall(question)]
    if not words:
        return []
    chat = " ".join(_INFORMAL.get(w, w) for w in words)
    keywords = " ".join(content_tokens(question)[:3])
    return [text for text in dict.fromkeys((chat, keywords)) if text and text != question]


def _sub_index(index: KnowledgeIndex, entries: list[FaqEntry]) -> KnowledgeIndex:
    """The index of `entries` (the same entries with fewer alternatives), reusing its vectors."""
    vectors = index.row_vectors()
    row_of = {
        (pos, kind, text): row
        for row, (pos, kind, text) in enumerate(
            zip(index.row_entry, index.row_kind, index.row_text, strict=True)
        )
    }
    rows = rows_for(entries)
    picked = [row_of[(row.entry, row.kind, row.text)] for row in rows]
    faiss_index = make_faiss(np.ascontiguousarray(vectors[picked]), exact=True)
    return KnowledgeIndex.from_rows(entries, rows, faiss_index, dict(index.manifest))


def _folds(entries: Sequence[FaqEntry]) -> list[tuple[list[FaqEntry], list[EvalQuery]]]:
    """Two leave-one-out folds: fold k holds out alternative k of every entry that has it."""
    folds = []
    for k in (0, 1):
        kept, probes = [], []
        for entry in entries:
            alternatives = list(entry.alternatives)
            if len(alternatives) > k:
                probes.append(EvalQuery(alternatives.pop(k), entry.id))
                kept.append(dataclasses.replace(entry, alternatives=tuple(alternatives)))
            else:
                kept.append(entry)
        if probes:
            folds.append((kept, probes))
    return folds


def _sample(items: list, limit: int, seed: int) -> list:
    if len(items) <= limit:
        return items
    return random.Random(seed).sample(items, limit)


def _best(retriever: object, query: str) -> tuple[str | None, float]:
    matches = retriever.search(query, k=1)  # type: ignore[attr-defined]
    return (matches[0].entry.id, float(matches[0].score)) if matches else (None, 0.0)


def calibrate(
    index: KnowledgeIndex,
    embedder: Embedder,
    *,
    labelled: Sequence[EvalQuery] | None = None,
    max_decline: float = MAX_PROBE_DECLINE,
    oos_quantile: float = OOS_QUANTILE,
    seed: int = 13,
) -> Calibration:
    """Fit the decline threshold of `index` (see the module docstring)."""
    from helpdesk.knowledge.retriever import Retriever

    def retriever_for(sub: KnowledgeIndex) -> Retriever:
        return Retriever(sub, embedder, threshold=0.5, max_related=0)

    full = retriever_for(index)
    queries: list[EvalQuery] = []
    rankings: list[Ranked] = []

    def run(retriever: Retriever, items: Sequence[EvalQuery]) -> None:
        for item in items:
            best_id, score = _best(retriever, item.query)
            queries.append(item)
            rankings.append(Ranked(ids=[best_id] if best_id else [], scores=[score]))

    if labelled:
        run(full, labelled)
        source = "labelled"
    else:
        source = "probes"
        with_alternatives = {e.id for e in index.entries if e.alternatives}
        for entries, probes in _folds(index.entries):
            run(retriever_for(_sub_index(index, entries)), _sample(probes, MAX_PROBES // 2, seed))
        rewrites = [
            EvalQuery(text, e.id)
            for e in index.entries
            if e.id not in with_alternatives
            for text in informal_rewrites(e.question)
        ]
        run(full, _sample(rewrites, MAX_PROBES, seed))
        run(full, [EvalQuery(q, None) for q in out_of_scope_questions()])

    pairs = list(zip(queries, rankings, strict=True))
    inscope = [r.scores[0] for q, r in pairs if q.expected_id is not None]
    outside = [r.scores[0] for q, r in pairs if q.expected_id is None]
    if labelled:
        fitted = calibrate_threshold(queries, rankings)
    else:
        # Real questions are harder than probes made from the knowledge base itself, so the
        # threshold is set from the out-of-scope side: just above what off-topic questions
        # score (`oos_quantile` of them declined), as low as that allows.
        fitted = float(np.quantile(outside, oos_quantile)) if outside else THRESHOLD_RANGE[0]
    if inscope:  # the cap: at most `max_decline` of the in-scope ones below the threshold
        fitted = min(fitted, float(np.quantile(inscope, max_decline)))
    threshold = float(min(max(fitted, THRESHOLD_RANGE[0]), THRESHOLD_RANGE[1]))
    figures = metrics_from_rankings(queries, rankings, threshold)
    return Calibration(
        threshold=round(threshold, 4),
        source=source,
        in_scope=int(figures["n"]),
        out_of_scope=int(figures["oos_n"]),
        answer_rate=round(1.0 - float(figures["no_answer_rate"]), 4),
        top1=float(figures["top1"]),
        decline_rate=float(figures["oos_declined_rate"] or 0.0),
    )
