"""Value objects of the knowledge base."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FaqEntry:
    """One question-and-answer pair of the knowledge base.

    Attributes:
        id: Stable identifier, unique across all source files.
        category: Free-text category (e.g. "SAKTI").
        question: The canonical question.
        answer: The answer shown to the user.
        alternatives: Paraphrases of the question that should retrieve this entry.
        source: Optional URL or reference of the answer.
        file: The source file the entry was loaded from (for error messages).
    """

    id: str
    category: str
    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    source: str | None = None
    file: str | None = None

    @property
    def questions(self) -> tuple[str, ...]:
        """The question followed by its alternatives."""
        return (self.question, *self.alternatives)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of the entry (keys as in the YAML contract, plus `file`)."""
        return {
            "id": self.id,
            "category": self.category,
            "question": self.question,
            "answer": self.answer,
            "alternatives": list(self.alternatives),
            "source": self.source,
            "file": self.file,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "FaqEntry":
        """Inverse of `to_dict`."""
        return cls(
            id=data["id"],
            category=data.get("category", ""),
            question=data["question"],
            answer=data["answer"],
            alternatives=tuple(data.get("alternatives") or ()),
            source=data.get("source"),
            file=data.get("file"),
        )
