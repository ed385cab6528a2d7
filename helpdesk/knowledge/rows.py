"""What the index embeds of each FAQ entry: rows of several kinds, and near-duplicate entries.

`rows_for` turns entries into `Row`s (`ROW_KINDS`): how a citizen might ask the entry (each
question and alternative, normalised, embedded as a query), the question with the start of the
answer, and the entry with its category. `near_duplicates` finds entries too close to tell apart
from their "entry" rows' vectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.normalize import normalize

#: Two entries whose "entry" rows (category, question, start of the answer) are at least this
#: close are near-duplicates: too close to tell apart, so answering one offers the other.
NEAR_DUPLICATE_COSINE = 0.97
#: Above this many entries the pairwise near-duplicate check is skipped (it is quadratic).
NEAR_DUPLICATE_MAX_ENTRIES = 5000
#: Answers are cut into passages of about this many words, on sentence boundaries.
PASSAGE_WORDS = 60
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

#: Row kinds: what was embedded, and whether as a query (e5's "query: ") or a passage.
#: "question": each question and alternative, normalised, as a query (a paraphrase of a query);
#: "question_answer": the question followed by the answer's first passage (one row per entry:
#: the same row for each alternative ranked no better and cost most of the build's time);
#: "entry": "category: question first-passage"; "category_question": "category: question" as a
#: query. The retriever takes the best row of each kind per entry as one feature.
ROW_KINDS = ("question", "question_answer", "entry", "category_question")
QUERY_KINDS = frozenset({"question", "category_question"})


@dataclass(frozen=True)
class Row:
    """One vector of the index: its entry (position), kind and the text that was embedded."""

    entry: int
    kind: str
    text: str


def answer_passages(answer: str, max_words: int = PASSAGE_WORDS) -> list[str]:
    """The answer cut into passages of about `max_words` words on sentence boundaries."""
    parts = [p.strip() for p in _SENTENCE_END.split(answer) if p and p.strip()]
    passages: list[str] = []
    current: list[str] = []
    words = 0
    for part in parts:
        size = len(part.split())
        if current and words + size > max_words:
            passages.append(" ".join(current))
            current, words = [], 0
        current.append(part)
        words += size
    if current:
        passages.append(" ".join(current))
    return passages or [answer]


def rows_for(entries: Sequence[FaqEntry]) -> list[Row]:
    """The rows to embed for `entries`, entry by entry (see `ROW_KINDS`)."""
    rows: list[Row] = []
    for pos, entry in enumerate(entries):
        opening = answer_passages(entry.answer)[0]
        for text in entry.questions:
            rows.append(Row(pos, "question", normalize(text) or text))
        rows.append(Row(pos, "question_answer", f"{entry.question} {opening}"))
        rows.append(Row(pos, "entry", f"{entry.category}: {entry.question} {opening}"))
        rows.append(Row(pos, "category_question", f"{entry.category}: {entry.question}"))
    return rows


def near_duplicates(
    entries: Sequence[FaqEntry], row_entry: Sequence[int], row_kind: Sequence[str], vectors
) -> list[list[object]]:
    """Pairs of entries too close to tell apart: `[id_a, id_b, cosine]`, closest first."""
    rows = [i for i, kind in enumerate(row_kind) if kind == "entry"]
    if not 1 < len(rows) <= NEAR_DUPLICATE_MAX_ENTRIES:
        return []
    picked = np.asarray(vectors)[rows]
    similar = picked @ picked.T
    first, second = np.nonzero(np.triu(similar, 1) >= NEAR_DUPLICATE_COSINE)
    pairs = [
        [
            entries[row_entry[rows[a]]].id,
            entries[row_entry[rows[b]]].id,
            round(float(similar[a, b]), 4),
        ]
        for a, b in zip(first, second, strict=True)
    ]
    return sorted(pairs, key=lambda pair: -float(pair[2]))  # type: ignore[arg-type]
