"""Normalise Indonesian helpdesk text: informal spelling, abbreviations, slang, typos.

`normalize("Gmn cr reset pw SAKTI min??")` gives `"bagaimana cara reset password sakti"`.
The dictionary lives in `slang_id.yml` beside this module so knowledge managers can extend it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

SLANG_FILE = Path(__file__).with_name("slang_id.yml")

#: Words that carry no topic: function words, question words, politeness and request words
#: ("mau tanya dong min" has none left). `content_tokens` drops them.

_WORD_CHARS = r"0-9a-z"
# A token: letters/digits, optionally joined by . - / _ @ inside (co.id, 20260414-dbkswu).
_TOKEN_RE = re.compile(rf"[{_WORD_CHARS}]+(?:[.\-/_@][{_WORD_CHARS}]+)*")
_REPEAT_RE = re.compile(r"([a-z])\1{2,}")
_DIGIT_GROUP_RE = re.compile(r"^\d{1,3}(?:\.\d{3})+$")


@dataclass(frozen=True)
class SlangDictionary:
    """Replacement tables read from `slang_id.yml`."""

    words: dict[str, str]
    phrases: tuple[tuple[tuple[str, ...], str], ...]
    stopwords: frozenset[str] = frozenset()

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every word the dictionary knows (keys and replacement words)."""
        known = set(self.words)
        for value in self.words.values():
            known.update(value.split())
        for phrase, value in self.phrases:
            known.update(phrase)
            known.update(value.split())
        return frozenset(known)


def load_slang(path: Path = SLANG_FILE) -> SlangDictionary:
    """Read a slang dictionary file.

    The file holds `version: 1`, a `words:` map, and optional `phrases:` map and
    `stopwords:` (a space-separated text or a list).
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ValueError(f"{path}: must be a mapping with 'version: 1'")
    words = {
        str(k).strip().lower(): ("" if v is None else str(v).strip().lower())
        for k, v in (data.get("words") or {}).items()
    }
    phrases = []
    for k, v in (data.get("phrases") or {}).items():
        key = tuple(str(k).lower().split())
        if len(key) >= 2:
            phrases.append((key, "" if v is None else str(v).strip().lower()))
    # Longest phrases first so "assalamualaikum wr wb" wins over shorter overlaps.
    phrases.sort(key=lambda item: -len(item[0]))
    raw_stop = data.get("stopwords") or ""
    if isinstance(raw_stop, list):
        raw_stop = " ".join(str(w) for w in raw_stop)
    stopwords = frozenset(str(raw_stop).lower().split())
    return SlangDictionary(words=words, phrases=tuple(phrases), stopwords=stopwords)


@lru_cache(maxsize=1)
def _default_slang() -> SlangDictionary:
    return load_slang(SLANG_FILE)


# Common Indonesian words that really hold a doubled letter; "maaaaf" becomes "maaf".
_DOUBLE_LETTER_WORDS = frozenset(
    [
        "maaf",
        "saat",
        "taat",
        "jumaat",
        "sanggup",
        "tanggal",
        "tunggu",
        "ganggu",
        "manggil",
        "panggil",
        "tinggal",
        "bangga",
        "ringgit",
        "ngga",
        "nggak",
        "enggak",
        "tunggakan",
        "anggaran",
        "anggota",
        "minggu",
        "tinggi",
        "keluarga",
    ]
)


def _collapse_repeats(token: str, vocabulary: frozenset[str]) -> str:
    if not token.isalpha() or not _REPEAT_RE.search(token):
        return token
    doubled = _REPEAT_RE.sub(r"\1\1", token)
    if doubled in _DOUBLE_LETTER_WORDS or doubled in vocabulary:
        return doubled
    return _REPEAT_RE.sub(r"\1", token)


def _split_token(token: str) -> list[str]:
    """Split or clean joined tokens: reduplication, e-mail, 7.000.000, syarat2."""
    if _DIGIT_GROUP_RE.match(token):
        return [token.replace(".", "")]
    if "-" in token:
        parts = token.split("-")
        if all(p.isalpha() for p in parts):
            if len(set(parts)) == 1:  # dokumen-dokumen -> dokumen
                return [parts[0]]
            return parts
    if (
        len(token) > 3 and token.endswith("2") and token[:-1].isalpha() and len(token) >= 5
    ):  # syarat2 (plural written with 2) -> syarat
        return [token[:-1]]
    return [token]


def _tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("'", "")
    out: list[str] = []
    for raw in _TOKEN_RE.findall(text):
        raw = raw.strip("._-/@")
        if raw:
            out.extend(_split_token(raw))
    return out


def normalize(text: str, slang: SlangDictionary | None = None) -> str:
    """Normalise a text for matching.

    Lower-cases, removes punctuation (keeping identifiers such as `co.id` or
    `20260414-dbkswu` and numbers), collapses letters repeated three times or more,
    then replaces phrases and words from the slang dictionary (dropping particles such
    as "min", "dong", "ya").

    Args:
        text: Any user or FAQ text.
        slang: Dictionary to use; the bundled `slang_id.yml` by default.

    Returns:
        Space-separated normalised tokens (may be empty).
    """
    slang = slang or _default_slang()
    vocabulary = slang.vocabulary
    tokens = [_collapse_repeats(t, vocabulary) for t in _tokens(text)]
    # Phrases, then words, then phrases again: "kata sandi" and "no hp" alike.
    if slang.phrases and len(tokens) > 1:
        tokens = _replace_phrases(tokens, slang.phrases)
    words: list[str] = []
    for token in tokens:
        replacement = slang.words.get(token)
        if replacement is None:
            words.append(token)
        elif replacement:
            words.extend(replacement.split())
    if slang.phrases and len(words) > 1:
        words = _replace_phrases(words, slang.phrases)
    return " ".join(words)


def _replace_phrases(
    words: list[str], phrases: tuple[tuple[tuple[str, ...], str], ...]
) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        for phrase, value in phrases:
            n = len(phrase)
            if tuple(words[i : i + n]) == phrase:
                out.extend(value.split())
                i += n
                break
        else:
            out.append(words[i])
            i += 1
    return out


def content_tokens(text: str, slang: SlangDictionary | None = None) -> list[str]:
    """Normalised tokens that carry a topic (stopwords and request words removed).

    `content_tokens("mau tanya dong min")` is `[]`: the user has not asked anything yet.
    """
    slang = slang or _default_slang()
    return [t for t in normalize(text, slang).split() if t not in slang.stopwords]
