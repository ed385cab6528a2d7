"""What changed between two versions of an FAQ entry, field by field, word by word.

The desk shows it under each version of an entry's history and beside a draft: deleted words
struck through, added words underlined (`Change.parts`: ("=", text), ("-", text), ("+", text)).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from helpdesk.storage.knowledge_base import FaqContent

#: The fields shown, with their labels in the desk.
FIELDS = (
    ("category", "Kategori"),
    ("question", "Pertanyaan"),
    ("alternatives", "Pertanyaan lain"),
    ("answer", "Jawaban"),
    ("source", "Sumber"),
    ("file", "Berkas"),
)
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]+")


@dataclass(frozen=True)
class Change:
    """One field that differs: its label and the word-level edit from old to new."""

    field: str
    label: str
    parts: tuple[tuple[str, str], ...]


def _text(content: FaqContent | None, field: str) -> str:
    if content is None:
        return ""
    value = getattr(content, field)
    if field == "alternatives":
        return "\n".join(value)
    return value or ""


def word_diff(old: str, new: str) -> tuple[tuple[str, str], ...]:
    """The edit from `old` to `new` in words (whitespace kept with its words)."""
    before, after = _TOKENS.findall(old), _TOKENS.findall(new)
    parts: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(("=", "".join(before[a1:a2])))
            continue
        if a2 > a1:
            parts.append(("-", "".join(before[a1:a2])))
        if b2 > b1:
            parts.append(("+", "".join(after[b1:b2])))
    return tuple(parts)


def changes(old: FaqContent | None, new: FaqContent) -> list[Change]:
    """The fields of `new` that differ from `old` (every filled one when `old` is None)."""
    found = []
    for field, label in FIELDS:
        before, after = _text(old, field), _text(new, field)
        if before != after:
            found.append(Change(field, label, word_diff(before, after)))
    return found
