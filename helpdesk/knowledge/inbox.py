"""The questions inbox: what citizens asked that the knowledge base did not settle, grouped
by meaning, with the entries closest to each group.

The questions (`helpdesk.storage.question_inbox`: declined, answered "Tidak", handed to an
officer, turned into a ticket) are embedded as the retriever embeds a query, centred on the
mean of the knowledge base's own question vectors and the questions (e5's vectors all lie in
a narrow cone; the centring spreads an organisation's topics apart) and grouped by
complete-linkage agglomerative clustering (scipy): every two questions of a group are within
`GROUP_DISTANCE` (cosine distance) of each other.

`GROUP_DISTANCE` was chosen on the development sets of other organisations
(../shared/eval/faq: pln, unsri, sukoharjo) and ours (knowledge_base/eval/queries.jsonl),
grouping each set's queries and comparing with their expected entries, as a mean over the sets
(`scripts/tune_question_groups.py` prints the table). At 0.45: pairwise precision 0.96 / 0.67 /
0.53 / 0.41 and recall 0.50 / 0.48 / 0.40 / 0.11 (mean F1 0.46, within 0.01 of the best over
0.30-0.70, average and complete linkage, raw vectors or centred on the knowledge base, on the
questions, on both, or on a mean pooled over other organisations). Precision was preferred: a
group that mixes two topics misleads; a topic split in two groups costs one more click. A
small installation (fewer than `MIN_CENTRE_VECTORS` vectors in all) groups raw vectors within
`RAW_GROUP_DISTANCE` (0.06 on the same sets: precision 0.95 / 0.48 / 0.48 / 0.38, mean F1 0.40).

A knowledge manager adds a group's questions as alternatives of an entry (a draft of it),
opens a new draft entry from the group (its officer's reply as the draft answer), or
dismisses it: the group's centroid is kept, and a later question within `GROUP_DISTANCE` of
a dismissed centroid stays out of the inbox.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Sequence

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from helpdesk.knowledge.curation import DEFAULT_FILE, checked
from helpdesk.knowledge.normalize import normalize
from helpdesk.knowledge.query import embedding_text
from helpdesk.knowledge.retriever import Match, Retriever
from helpdesk.storage.enums import TriageOutcome
from helpdesk.storage.knowledge_base import KnowledgeBaseRepository
from helpdesk.storage.question_inbox import (  # noqa: F401 - REASONS: part of this API
    REASONS,
    InboxQuestion,
    QuestionInboxRepository,
    parse_ref,
)

#: Complete-linkage cosine distance (on centred vectors) within which questions group.
GROUP_DISTANCE = 0.45
#: Fewer vectors than this (the knowledge base's questions and the inbox's) are not centred
#: (their mean is mostly noise); they group within `RAW_GROUP_DISTANCE` of each other.
MIN_CENTRE_VECTORS = 100
RAW_GROUP_DISTANCE = 0.06
#: The inbox looks this far back.
DEFAULT_DAYS = 90
#: At most this many questions are grouped (the newest).
MAX_QUESTIONS = 2000
#: Entries suggested per group.
SUGGESTED = 3
#: Distinct wordings shown per group.
EXAMPLES = 5
#: At most this many of a group's wordings become alternatives (or a new entry's).
MAX_NEW_ALTERNATIVES = 20
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class QuestionGroup:
    """Questions of one meaning.

    Attributes:
        questions: The group's questions, newest first.
        label: The question closest to all the others (the group's name).
        centroid: The mean of the questions' (uncentred) vectors, L2-normalised.
        suggestions: The entries closest to the label, best first (filled for shown groups).
    """

    questions: tuple[InboxQuestion, ...]
    label: str
    centroid: np.ndarray = field(repr=False, compare=False)
    suggestions: tuple[Match, ...] = ()

    @property
    def size(self) -> int:
        return len(self.questions)

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(q.ref for q in self.questions)

    @property
    def key(self) -> str:
        """A short stable name of the group (its questions' references hashed)."""
        return hashlib.sha256("|".join(sorted(self.refs)).encode()).hexdigest()[:12]

    @property
    def examples(self) -> list[tuple[str, int]]:
        """The distinct wordings (case and spacing aside) with how often, most frequent first."""
        counts: Counter[str] = Counter()
        first: dict[str, str] = {}
        for question in self.questions:
            key = " ".join(question.text.lower().split())
            counts[key] += 1
            first.setdefault(key, question.text)
        return [(first[key], n) for key, n in counts.most_common()]

    @property
    def reasons(self) -> dict[str, int]:
        """How many of the questions are in the inbox for each reason."""
        return dict(Counter(q.reason for q in self.questions).most_common())

    @property
    def last_asked(self) -> datetime:
        return max(q.asked_at for q in self.questions)

    @property
    def agent_reply(self) -> str | None:
        """The officer's reply to one of the group's handoffs (the newest that has one)."""
        return next((q.agent_reply for q in self.questions if q.agent_reply), None)

    @property
    def rejected_entries(self) -> list[str]:
        """The entries citizens said "Tidak" to in this group, most frequent first."""
        return [
            faq for faq, _ in Counter(q.faq_id for q in self.questions if q.faq_id).most_common()
        ]


def centred(vectors: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """`vectors` minus `mean`, L2-normalised (unchanged but normalised without a mean)."""
    shifted = np.asarray(vectors, dtype=np.float64)
    if mean is not None:
        shifted = shifted - mean
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    return shifted / np.where(norms == 0.0, 1.0, norms)


def cluster(vectors: np.ndarray, distance: float = GROUP_DISTANCE) -> np.ndarray:
    """A group number per row of `vectors` (L2-normalised): complete linkage, cosine."""
    n = len(vectors)
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    distances = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    tree = linkage(squareform(distances, checks=False), method="complete")
    return fcluster(tree, distance, criterion="distance").astype(np.int64)


def slug_for(text: str, taken: set[str]) -> str:
    """An entry id made of `text`'s first words, not in `taken`."""
    words = _SLUG_CHARS.sub("-", normalize(text).lower()).strip("-").split("-")
    base = "-".join(w for w in words if w)[:60].strip("-") or "entri-baru"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


class QuestionInbox:
    """The inbox over a repository, the knowledge base and the retriever in use.

    Args:
        repository: The questions and their triage.
        knowledge_base: The curated entries (drafts are written there).
        retriever: Returns the retriever in use (called when needed: recording what was done
            with questions loads no model): its embedder embeds the questions, its index gives
            the centre and the suggestions.
    """

    def __init__(
        self,
        repository: QuestionInboxRepository,
        knowledge_base: KnowledgeBaseRepository,
        retriever: Callable[[], Retriever],
    ) -> None:
        self.repository = repository
        self.knowledge_base = knowledge_base
        self._retriever = retriever

    @property
    def retriever(self) -> Retriever:
        return self._retriever()

    # -- reading -------------------------------------------------------------------------
    def _space(self, questions: np.ndarray) -> tuple[np.ndarray | None, float]:
        """The centre and the grouping distance for these question vectors: centred on the
        mean of the knowledge base's question rows and the questions when there are at least
        `MIN_CENTRE_VECTORS` of them (a mean of a few vectors is mostly noise), else raw."""
        index = self.retriever.index
        rows = [i for i, kind in enumerate(index.row_kind) if kind == "question"]
        if len(rows) + len(questions) < MIN_CENTRE_VECTORS:
            return None, RAW_GROUP_DISTANCE
        known = np.asarray(index.row_vectors(), dtype=np.float64)[rows]
        return np.vstack([known, questions]).mean(axis=0), GROUP_DISTANCE

    def _vectors(self, questions: Sequence[InboxQuestion]) -> np.ndarray:
        texts = [embedding_text(q.text, self.retriever.embed_normalized) for q in questions]
        return np.asarray(self.retriever.embedder.embed_queries(texts), dtype=np.float64)

    def groups(
        self, *, now: datetime, days: int = DEFAULT_DAYS, limit: int = MAX_QUESTIONS
    ) -> list[QuestionGroup]:
        """The open questions of the last `days` days grouped by meaning, largest group first
        (then the most recently asked), without those of a dismissed group's meaning."""
        questions = self.repository.open_questions(since=now - timedelta(days=days), limit=limit)
        if not questions:
            return []
        raw = self._vectors(questions)
        mean, distance = self._space(raw)
        vectors = centred(raw, mean)
        dismissed = self.repository.dismissed_groups(self.retriever.embedder.name)
        if dismissed:
            centres = centred(np.stack([d.centroid for d in dismissed]), mean)
            kept = (1.0 - vectors @ centres.T).min(axis=1) > distance
            questions = [q for q, keep in zip(questions, kept, strict=True) if keep]
            raw, vectors = raw[kept], vectors[kept]
        labels = cluster(vectors, distance)
        groups = []
        for label in dict.fromkeys(labels.tolist()):
            members = np.flatnonzero(labels == label)
            groups.append(
                self._group([questions[i] for i in members], raw[members], vectors[members])
            )
        groups.sort(key=lambda g: (-g.size, -g.last_asked.timestamp()))
        return groups

    def _group(
        self, questions: list[InboxQuestion], raw: np.ndarray, vectors: np.ndarray
    ) -> QuestionGroup:
        medoid = int(np.argmax((vectors @ vectors.T).sum(axis=1)))
        centroid = raw.mean(axis=0)
        centroid = centroid / (np.linalg.norm(centroid) or 1.0)
        return QuestionGroup(tuple(questions), questions[medoid].text, centroid.astype(np.float32))

    def suggest(self, group: QuestionGroup) -> QuestionGroup:
        """The group with the `SUGGESTED` entries closest to its label."""
        matches = self.retriever.search(group.label, k=SUGGESTED) if group.label.strip() else []
        return QuestionGroup(group.questions, group.label, group.centroid, tuple(matches))

    def group_of(
        self, refs: Sequence[str], *, now: datetime, days: int = DEFAULT_DAYS
    ) -> QuestionGroup | None:
        """The group of the questions `refs` that are still open (None when none is): what a
        knowledge manager acts on, as the page showed it."""
        wanted = {r for r in refs if parse_ref(r) is not None}
        if not wanted:
            return None
        open_questions = self.repository.open_questions(
            since=now - timedelta(days=days), limit=MAX_QUESTIONS
        )
        questions = [q for q in open_questions if q.ref in wanted]
        if not questions:
            return None
        raw = self._vectors(questions)
        return self._group(questions, raw, centred(raw, self._space(raw)[0]))

    # -- acting --------------------------------------------------------------------------
    def add_as_alternatives(self, group: QuestionGroup, slug: str, *, actor: str) -> int:
        """Add the group's wordings as alternatives of entry `slug`, in its draft (made from
        the published version when there is none); the questions leave the inbox.

        Returns:
            How many alternatives were added (wordings the entry already has are skipped).

        Raises:
            LookupError: No such entry, or it is retired.
        """
        entry = self.knowledge_base.entry(slug)
        if entry is None or entry.current.retired:
            raise LookupError(slug)
        content = entry.current.content
        known = {normalize(text) for text in (content.question, *content.alternatives)}
        added: list[str] = []
        for text, _count in group.examples:
            key = normalize(text)
            if key and key not in known and len(added) < MAX_NEW_ALTERNATIVES:
                known.add(key)
                added.append(text)
        if added:
            draft = checked(
                slug,
                category=content.category,
                question=content.question,
                answer=content.answer,
                alternatives=[*content.alternatives, *added],
                source=content.source,
                file=content.file,
            )
            self.knowledge_base.save_draft(
                slug,
                draft,
                author=actor,
                note=f"{len(added)} alternatif dari kotak pertanyaan warga",
            )
        self.repository.triage(group.refs, TriageOutcome.ADDED, actor=actor, faq_slug=slug)
        return len(added)

    def draft_values(self, group: QuestionGroup) -> dict[str, str]:
        """The fields of a new entry made from the group: its label as the question, its
        other wordings as alternatives, the officer's reply as the answer, the category of
        the closest entry."""
        taken = {summary.slug for summary in self.knowledge_base.entries()}
        others = [text for text, _ in group.examples if text != group.label]
        category = group.suggestions[0].entry.category if group.suggestions else ""
        return {
            "id": slug_for(group.label, taken),
            "category": category,
            "question": group.label,
            "alternatives": "\n".join(others[:MAX_NEW_ALTERNATIVES]),
            "answer": group.agent_reply or "",
            "source": "",
            "file": DEFAULT_FILE,
        }

    def drafted(self, refs: Sequence[str], slug: str, *, actor: str) -> int:
        """The questions `refs` went into the new draft entry `slug`: they leave the inbox."""
        return self.repository.triage(refs, TriageOutcome.DRAFTED, actor=actor, faq_slug=slug)

    def dismiss(self, group: QuestionGroup, *, actor: str) -> int:
        """Dismiss the group: its questions leave the inbox, and so do later ones of the same
        meaning. Returns how many questions were dismissed."""
        self.repository.dismiss_group(
            label=group.label,
            size=group.size,
            model=self.retriever.embedder.name,
            centroid=group.centroid,
            actor=actor,
        )
        return self.repository.triage(group.refs, TriageOutcome.DISMISSED, actor=actor)
