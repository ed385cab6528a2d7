"""Corpus-scale-free lexical signals for FAQ retrieval.

* *Coverage* (`LexicalScorer`): the IDF-weighted share of the query's content words found in an
  FAQ (its question and alternatives, and optionally its answer), with light Indonesian stemming
  and one-typo tolerance. It lies in [0, 1] whatever the size of the knowledge base, so one
  calibrated threshold carries over to knowledge bases the project has never seen.
* *Character n-grams* (`CharNgramScorer`): TF-IDF cosine over character 2-5-grams of the
  questions, which survives typos, run-together words and abbreviations that defeat stemming.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np
from scipy import sparse

from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.normalize import content_tokens

_PREFIX_RE = re.compile(r"^(meng|meny|mem|men|me|peng|peny|pem|pen|per|pe|ber|be|ter|di|ke|se)")
_SUFFIX_RE = re.compile(r"(nya|lah|kah|kan|an|i)$")
#: Weight of a match found only through a one-letter typo.
FUZZY_WEIGHT = 0.7
_MIN_STEM = 4


def stem(token: str) -> str:
    """A light Indonesian stem: one suffix and one prefix removed, never below 4 letters.

    `pendaftaran`, `mendaftar` and `didaftarkan` all give `daftar`.
    """
    if not token.isalpha() or len(token) <= _MIN_STEM:
        return token
    word = token
    for _ in range(2):  # -kan then -nya ("didaftarkannya")
        cut = _SUFFIX_RE.sub("", word)
        if cut != word and len(cut) >= _MIN_STEM:
            word = cut
    cut = _PREFIX_RE.sub("", word)
    if cut != word and len(cut) >= _MIN_STEM:
        word = cut
    return word


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class LexicalScorer:
    """IDF-weighted query coverage over FAQ questions and alternatives.

    Args:
        entries: The knowledge base.
        with_answers: Count the answer's words as the entry's too (a knowledge base with one
            terse question per entry names its topic's words in the answer).
    """

    def __init__(self, entries: Sequence[FaqEntry], *, with_answers: bool = False) -> None:
        self.entries = list(entries)
        texts: list[frozenset[str]] = []  # distinct stems of each question, category, answer
        owners: list[int] = []
        entry_stems: list[frozenset[str]] = []
        df: dict[str, int] = {}
        for pos, entry in enumerate(self.entries):
            own = [[stem(t) for t in content_tokens(q)] for q in entry.questions]
            own.append([stem(t) for t in content_tokens(entry.category)])
            if with_answers:
                own.append([stem(t) for t in content_tokens(entry.answer)])
            stems = frozenset(s for text in own for s in text)
            entry_stems.append(stems)
            texts += [frozenset(text) for text in own]
            owners += [pos] * len(own)
            for s in stems:
                df[s] = df.get(s, 0) + 1
        n = max(1, len(self.entries))
        self._idf = {s: math.log((n + 1) / (c + 0.5)) for s, c in df.items()}
        self._max_idf = math.log((n + 1) / 0.5)
        self._column = {s: col for col, s in enumerate(df)}
        idf = np.asarray([self._idf[s] for s in df], dtype=np.float64)
        # entries x stems (1 where the entry holds the stem) and texts x stems (the stem's IDF),
        # column-major: a query reads only the columns of the stems it matched.
        self._entry_stems = _incidence(entry_stems, self._column, None).tocsc()
        self._text_stems = _incidence(texts, self._column, idf).tocsc()
        self._text_owner = np.asarray(owners, dtype=np.int64)
        self._text_denom = np.asarray(self._text_stems.sum(axis=1)).ravel()
        self._deletion_index: dict[str, set[str]] = {}
        for s in df:
            if len(s) >= 5:
                for key in _deletes(s) | {s}:
                    self._deletion_index.setdefault(key, set()).add(s)

    def idf(self, stem_: str) -> float:
        """IDF of a stem in the knowledge base (unknown stems get the highest IDF)."""
        return self._idf.get(stem_, self._max_idf)

    def _expand(self, query_stem: str) -> dict[str, float]:
        """Knowledge-base stems that a query stem matches, with the match weight."""
        matches = {query_stem: 1.0} if query_stem in self._idf else {}
        if len(query_stem) >= 5 and not query_stem.isdigit():
            keys = _deletes(query_stem) | {query_stem}
            for key in keys:
                for candidate in self._deletion_index.get(key, ()):
                    if candidate not in matches and abs(len(candidate) - len(query_stem)) <= 1:
                        matches[candidate] = FUZZY_WEIGHT
        return matches

    def query_stems(self, query: str) -> list[str]:
        """Distinct stems of the query's content words, in order."""
        seen: list[str] = []
        for token in content_tokens(query):
            s = stem(token)
            if s not in seen:
                seen.append(s)
        return seen

    def _terms(self, query: str) -> tuple[list[float], list[dict[str, float]]]:
        """The query's words: their weights and the knowledge-base stems each matches."""
        weights: list[float] = []
        expansions: list[dict[str, float]] = []
        for s in self.query_stems(query):
            matches = self._expand(s)
            expansions.append(matches)
            # A word the knowledge base never uses weighs as much as its rarest word.
            weights.append(max((self.idf(m) for m in matches), default=self._max_idf))
        return weights, expansions

    def candidates(self, query: str, limit: int) -> list[int]:
        """Up to `limit` entries holding the query's words, those holding the rarest first."""
        _weights, expansions = self._terms(query)
        matched = {kb for matches in expansions for kb in matches}
        stems = sorted(matched, key=lambda kb: (-self.idf(kb), kb))
        found: dict[int, None] = {}
        matrix = self._entry_stems
        for kb_stem in stems:
            col = self._column[kb_stem]
            for pos in matrix.indices[matrix.indptr[col] : matrix.indptr[col + 1]].tolist():
                found.setdefault(pos)
                if len(found) >= limit:
                    return list(found)
        return list(found)

    def score(
        self, query: str, positions: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Coverage features of every entry (or of the entries at `positions`) for `query`.

        Returns:
            (query_coverage, doc_coverage): for each entry, the IDF-weighted share of the
            query's words it contains, and the best IDF-weighted share of one of its texts'
            words (a question, an alternative, the category, the answer when counted) that the
            query contains. Both in [0, 1], in entry order (or `positions`').
        """
        n = len(self.entries)
        qcov = np.zeros(n, dtype=np.float64)
        dcov = np.zeros(n, dtype=np.float64)
        weights, expansions = self._terms(query)
        if weights:
            total = sum(weights) or 1.0
            matched: dict[int, float] = {}  # column -> best match weight over the query's words
            entry_stems, text_stems = self._entry_stems, self._text_stems
            for weight, matches in zip(weights, expansions, strict=True):
                best = np.zeros(n, dtype=np.float64)  # the word's best match in each entry
                for kb_stem, m in matches.items():
                    col = self._column[kb_stem]
                    matched[col] = max(matched.get(col, 0.0), m)
                    rows = entry_stems.indices[
                        entry_stems.indptr[col] : entry_stems.indptr[col + 1]
                    ]
                    best[rows] = np.maximum(best[rows], m)
                qcov += weight * best
            qcov /= total
            got = np.zeros(len(self._text_owner), dtype=np.float64)
            for col, m in matched.items():
                lo, hi = text_stems.indptr[col], text_stems.indptr[col + 1]
                got[text_stems.indices[lo:hi]] += text_stems.data[lo:hi] * m
            hit = np.flatnonzero(got > 0.0)
            np.maximum.at(dcov, self._text_owner[hit], got[hit] / self._text_denom[hit])
            np.minimum(dcov, 1.0, out=dcov)
        if positions is None:
            return qcov, dcov
        picked = np.asarray(positions, dtype=np.int64)
        return qcov[picked], dcov[picked]


def _incidence(
    sets: Sequence[frozenset[str]], column: dict[str, int], values: np.ndarray | None
) -> sparse.csr_matrix:
    """Rows x stems sparse matrix of `sets`: 1, or the stem's entry of `values`."""
    indptr = np.zeros(len(sets) + 1, dtype=np.int64)
    indices = np.fromiter((column[s] for row in sets for s in row), dtype=np.int64)
    indptr[1:] = np.cumsum([len(row) for row in sets])
    data = np.ones(len(indices)) if values is None else values[indices]
    return sparse.csr_matrix((data, indices, indptr), shape=(len(sets), len(column)))


#: The char n-gram IDF reads at most about this many answer passages (an even sample beyond):
#: on a 100k-entry knowledge base all of them would cost gigabytes for no better weights.
IDF_MAX_PASSAGES = 20_000


class CharNgramScorer:
    """TF-IDF cosine over character 2-5-grams (within words) between a query and each question.

    The IDF is fitted on the questions and the answers together, so a n-gram common in the
    knowledge base's answers weighs little in its questions too.

    Args:
        entries: The knowledge base.
        passages: Extra texts for the IDF only (the answers' passages).
    """

    def __init__(self, entries: Sequence[FaqEntry], passages: Sequence[str] = ()) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        owners = [pos for pos, entry in enumerate(entries) for _ in entry.questions]
        questions = [text for entry in entries for text in entry.questions]
        self._size = len(entries)
        self._owners = np.asarray(owners, dtype=np.int64)
        bounds = np.searchsorted(self._owners, np.arange(self._size + 1))
        self._entry_rows = [np.arange(bounds[i], bounds[i + 1]) for i in range(self._size)]
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), lowercase=True, sublinear_tf=True
        )
        step = max(1, len(passages) // IDF_MAX_PASSAGES)
        self._vectorizer.fit([*questions, *list(passages)[::step]])
        self._rows = self._vectorizer.transform(questions).tocsr()

    def score(self, query: str, positions: Sequence[int] | None = None) -> np.ndarray:
        """The best cosine of `query` to each entry's questions (or the entries at `positions`)."""
        if positions is None:
            rows, slots, size = None, self._owners, self._size
        else:
            picked = [self._entry_rows[pos] for pos in positions]
            rows = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
            slots = np.repeat(np.arange(len(picked)), [len(r) for r in picked])
            size = len(picked)
        best = np.zeros(size, dtype=np.float64)
        if not len(slots):
            return best
        matrix = self._rows if rows is None else self._rows[rows]
        vector = self._vectorizer.transform([query])
        cosines = np.asarray((matrix @ vector.T).todense()).ravel()
        np.maximum.at(best, slots, cosines)
        return best
