"""What the assistant would do with a question, now and once the drafts are published.

A knowledge manager types a question in the desk ("Coba pertanyaan") and sees the ranking
with scores, the decision and why, from the retriever in use (the published knowledge base)
and, when there are drafts, from a retriever over the published entries with every draft
applied (new entries added, changed ones replaced, retirements removed). That one is built in
memory from the live index, embedding only the rows the drafts changed, with the live
threshold (the calibration runs again when the drafts are published).
"""

from __future__ import annotations

from dataclasses import dataclass

from helpdesk.knowledge.curation import to_entry
from helpdesk.knowledge.index_build import build_index
from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.retriever import Match, Retriever
from helpdesk.storage.knowledge_base import KnowledgeBaseRepository

#: How many ranked entries a trial shows.
SHOWN = 5


@dataclass(frozen=True)
class Trial:
    """One question put to one retriever.

    Attributes:
        question: The question as typed.
        decision: "answered", "low_confidence" (declined: below the threshold) or "empty"
            (no content words: the assistant asks for the question).
        threshold: The decline threshold.
        best: The entry answered with (None when declined).
        related: The close alternatives offered as buttons.
        ranking: The best-scored entries, best first.
    """

    question: str
    decision: str
    threshold: float
    best: Match | None
    related: tuple[Match, ...]
    ranking: tuple[Match, ...]

    @property
    def why(self) -> str:
        """The decision explained, in the desk's words."""
        if self.decision == "empty":
            return (
                "Pertanyaan tidak memuat kata yang bermakna; asisten meminta warga menuliskan "
                "pertanyaannya."
            )
        top = self.ranking[0].score if self.ranking else 0.0
        if self.decision == "answered" and self.best is not None:
            return (
                f"Skor tertinggi {top:.2f} mencapai ambang {self.threshold:.2f}: asisten "
                f"menjawab dengan \u201c{self.best.entry.question}\u201d."
            )
        return (
            f"Skor tertinggi {top:.2f} di bawah ambang {self.threshold:.2f}: asisten tidak "
            "menebak; ia meminta warga menulis ulang pertanyaan atau membuat tiket."
        )


def put(retriever: Retriever, question: str) -> Trial:
    """Ask `retriever` the question."""
    answer = retriever.answer(question)
    return Trial(
        question=question,
        decision=answer.reason,
        threshold=float(retriever.threshold or 0.0),
        best=answer.best if answer.answered else None,
        related=tuple(answer.related),
        ranking=tuple(answer.candidates[:SHOWN]),
    )


def drafted_entries(repository: KnowledgeBaseRepository) -> list[FaqEntry] | None:
    """The published entries with every draft applied; None when there is no draft."""
    summaries = repository.entries()
    if not any(summary.draft is not None for summary in summaries):
        return None
    entries = []
    for summary in summaries:
        version = summary.draft or summary.published
        if version is None or version.retired:
            continue
        entries.append(to_entry(version))
    return entries


def drafted_retriever(live: Retriever, entries: list[FaqEntry]) -> Retriever:
    """A retriever over `entries`, built in memory from `live`'s index and threshold."""
    index = build_index(entries, live.embedder, None, progress=False, reuse=live.index)
    return Retriever(index, live.embedder, threshold=live.threshold)
