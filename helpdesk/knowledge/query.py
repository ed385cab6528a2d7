"""The part of a citizen's question that is matched, and its embedding carried along.

`embedding_text` is what the retriever embeds for a question; the NLU pipeline embeds the
same text to classify the intent (components/intent_blend.py) and puts the vector in the
message's parse data (`QUERY_EMBEDDING_KEY`), so the action server answering the question
reuses it instead of embedding the same text a second time (one e5 query costs ~12 ms wall,
~24 ms CPU on 2 cores). A vector is reused only for the same text and the same model.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpdesk.knowledge.normalize import normalize

#: A question is matched on its first this many characters (cut at a word): a citizen who
#: pastes a long complaint asks in its opening, and the cost of every signal grows with length.
MAX_QUERY_CHARACTERS = 1000
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def clip_query(query: str, limit: int = MAX_QUERY_CHARACTERS) -> str:
    """The part of `query` to match: each sentence once (a pasted text repeating a line must
    not outweigh its question), then at most `limit` characters, cut at a word."""
    if len(query) <= limit and query.count(".") + query.count("?") + query.count("!") < 2:
        return query
    seen: set[str] = set()
    kept: list[str] = []
    size = 0
    for match in _SENTENCE.finditer(query):
        sentence = match.group().strip()
        key = " ".join(sentence.lower().split())
        if not key or key in seen:
            continue
        seen.add(key)
        kept.append(sentence)
        size += len(sentence) + 1
        if size > limit:
            break
    text = " ".join(kept) or query
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = head.rsplit(None, 1)[0] if " " in head.strip() else head
    return cut or head


def embedding_text(query: str, normalized: bool = True) -> str:
    """The text embedded for `query`: clipped, and normalised (slang expanded) by default."""
    clipped = clip_query(query)
    return (normalize(clipped) if normalized else clipped) or clipped


#: Key of the parse data holding the query embedding (`QueryEmbedding.to_json`).
QUERY_EMBEDDING_KEY = "query_embedding"


@dataclass(frozen=True)
class QueryEmbedding:
    """An embedding of `text` by the embedder named `model` (float32, L2-normalised)."""

    model: str
    text: str
    vector: np.ndarray

    def to_json(self) -> dict[str, str]:
        """A JSON-safe form: the vector as base64 of little-endian float32 (~2 KB for e5)."""
        raw = np.ascontiguousarray(self.vector, dtype="<f4").tobytes()
        return {
            "model": self.model,
            "text": self.text,
            "vector": base64.b64encode(raw).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Any) -> QueryEmbedding | None:
        """The embedding in `data`, or None when it is missing or malformed."""
        if not isinstance(data, dict):
            return None
        model, text, vector = data.get("model"), data.get("text"), data.get("vector")
        if not (isinstance(model, str) and isinstance(text, str) and isinstance(vector, str)):
            return None
        try:
            raw = base64.b64decode(vector, validate=True)
        except (binascii.Error, ValueError):
            return None
        if not raw or len(raw) % 4:
            return None
        values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        if not np.all(np.isfinite(values)):
            return None
        return cls(model=model, text=text, vector=values)

    def matches(self, model: str, text: str, dim: int) -> bool:
        """Whether this is the embedding `model` would compute for `text`."""
        return self.model == model and self.text == text and self.vector.shape == (dim,)
