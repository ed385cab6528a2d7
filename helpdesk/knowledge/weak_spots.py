"""Where the knowledge base lets citizens down: the weak spots report of the desk.

- entries citizens often say "Tidak" to, or rate low (`FaqFigures`, with enough answers to
  judge: `MIN_SAID` "Ya"/"Tidak", `MIN_RATINGS` ratings);
- categories with many unanswered questions: each declined question counts for the category of
  the entry nearest to it (the index's nearest question row, even below the answering
  threshold: that is the topic it was about), beside the questions answered in the category;
- near-duplicate entries that split the answers: pairs whose questions are too close to tell
  apart (`NEAR_DUPLICATE_COSINE` on the entries' own question rows, and the index's
  near-duplicate pairs), with how often each was answered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.query import embedding_text
from helpdesk.knowledge.retriever import Retriever
from helpdesk.storage.feedback import FaqFigures

#: An entry is weak below this share of "Ya" ...
LOW_YES_RATE = 0.6
#: ... judged on at least this many "Ya" and "Tidak".
MIN_SAID = 5
#: An entry is weak below this average rating ...
LOW_RATING = 3.5
#: ... judged on at least this many ratings.
MIN_RATINGS = 5
#: Two entries with a question each this close (e5 cosine) are near-duplicates.
NEAR_DUPLICATE_COSINE = 0.95
#: At most this many near-duplicate pairs are listed.
MAX_PAIRS = 50


@dataclass(frozen=True)
class WeakEntry:
    """An entry citizens are not satisfied with, and why (in the desk's words)."""

    entry: FaqEntry
    figures: FaqFigures
    why: str


@dataclass(frozen=True)
class CategoryGap:
    """A category's declined questions (by nearest entry) beside its answered ones."""

    category: str
    unanswered: int
    answered: int

    @property
    def unanswered_share(self) -> float:
        total = self.unanswered + self.answered
        return self.unanswered / total if total else 0.0


@dataclass(frozen=True)
class NearDuplicate:
    """Two entries too close to tell apart, with how often each was answered."""

    first: FaqEntry
    second: FaqEntry
    cosine: float
    first_answered: int
    second_answered: int


@dataclass(frozen=True)
class WeakSpots:
    entries: list[WeakEntry]
    categories: list[CategoryGap]
    duplicates: list[NearDuplicate]


def weak_entries(entries: Sequence[FaqEntry], figures: Mapping[str, FaqFigures]) -> list[WeakEntry]:
    """The entries with a low "Ya" rate or rating, worst first."""
    found = []
    for entry in entries:
        f = figures.get(entry.id)
        if f is None:
            continue
        reasons = []
        said = f.ratings + f.rejected
        if said >= MIN_SAID and f.yes_rate is not None and f.yes_rate < LOW_YES_RATE:
            reasons.append(
                f"hanya {f.yes_rate:.0%} warga menjawab \u201cYa\u201d ({said} tanggapan)"
            )
        if (
            f.ratings >= MIN_RATINGS
            and f.rating_average is not None
            and f.rating_average < LOW_RATING
        ):
            reasons.append(f"nilai rata-rata {f.rating_average:.1f} dari {f.ratings} penilaian")
        if reasons:
            found.append(WeakEntry(entry, f, "; ".join(reasons)))
    found.sort(
        key=lambda w: (
            w.figures.yes_rate if w.figures.yes_rate is not None else 1.0,
            w.figures.rating_average or 5.0,
        )
    )
    return found


def category_gaps(
    retriever: Retriever, unanswered: Sequence[str], figures: Mapping[str, FaqFigures]
) -> list[CategoryGap]:
    """The categories by declined questions (attributed to the nearest entry's category),
    most first; categories without any are left out."""
    index = retriever.index
    category_of = {e.id: e.category for e in index.entries}
    missing: Counter[str] = Counter()
    texts = [embedding_text(q, retriever.embed_normalized) for q in unanswered if q.strip()]
    if texts:
        vectors = np.asarray(retriever.embedder.embed_queries(texts), dtype=np.float32)
        for hits in index.search(vectors, 1):
            if hits:
                row, _score = hits[0]
                missing[index.entries[index.row_entry[row]].category] += 1
    answered: Counter[str] = Counter()
    for faq_id, f in figures.items():
        if faq_id in category_of:
            answered[category_of[faq_id]] += f.answered
    return [
        CategoryGap(category, n, answered.get(category, 0)) for category, n in missing.most_common()
    ]


def near_duplicates(retriever: Retriever, figures: Mapping[str, FaqFigures]) -> list[NearDuplicate]:
    """Pairs of entries with questions too close to tell apart, closest first."""
    index = retriever.index
    entries = index.entries
    pairs: dict[tuple[int, int], float] = {}
    rows = [i for i, kind in enumerate(index.row_kind) if kind == "question"]
    if 1 < len(rows) <= 20_000:
        vectors = np.asarray(index.row_vectors(), dtype=np.float32)[rows]
        owner = np.asarray([index.row_entry[i] for i in rows])
        for start in range(0, len(rows), 1024):
            block = vectors[start : start + 1024] @ vectors.T
            for a, b in zip(*np.nonzero(block >= NEAR_DUPLICATE_COSINE), strict=True):
                first, second = int(owner[start + a]), int(owner[b])
                if first < second:
                    key = (first, second)
                    pairs[key] = max(pairs.get(key, 0.0), float(block[a, b]))
    position = {e.id: i for i, e in enumerate(entries)}
    for first_id, second_id, cosine in index.manifest.get("near_duplicates") or ():
        if first_id in position and second_id in position:
            a, b = sorted((position[first_id], position[second_id]))
            pairs[(a, b)] = max(pairs.get((a, b), 0.0), float(cosine))
    ranked = sorted(pairs.items(), key=lambda item: -item[1])[:MAX_PAIRS]
    none = FaqFigures()
    return [
        NearDuplicate(
            entries[a],
            entries[b],
            cosine,
            figures.get(entries[a].id, none).answered,
            figures.get(entries[b].id, none).answered,
        )
        for (a, b), cosine in ranked
    ]


def weak_spots(
    retriever: Retriever, figures: Mapping[str, FaqFigures], unanswered: Sequence[str]
) -> WeakSpots:
    """The whole report over the retriever in use (the published entries)."""
    return WeakSpots(
        entries=weak_entries(retriever.index.entries, figures),
        categories=category_gaps(retriever, unanswered, figures),
        duplicates=near_duplicates(retriever, figures),
    )
