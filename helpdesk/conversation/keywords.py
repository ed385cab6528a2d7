"""Choices read from what citizens type: the DIGIT service a request asks for, the ticket field
a citizen wants to change.

Citizens write informally and with typos ("akun digit sy keblokir", "lupa pw digit", "ganti
subjek"). A `KeywordTable` reads such text the same way whether it arrives raw or already
normalised by `helpdesk.knowledge.normalize`: it normalises the text and its own keywords with
the one slang dictionary (so "pw" is "password" and "ganti" is "ubah" on both sides), then
matches keywords as whole words, tolerating one typo in long words ("kblokir", "aktifasi") and
common affixes ("ke blokir", "emailnya", "diubah").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from helpdesk.conversation.identifiers import parse_choice
from helpdesk.knowledge.normalize import normalize

#: Shortest keyword word that may match with one typo (shorter words match exactly).
MIN_FUZZY_LENGTH = 5
#: Prefixes and suffixes stripped from a word that is not a keyword itself.
_PREFIXES = ("ter", "ke", "di")
_SUFFIXES = ("nya", "ku")
#: Shortest stem left after stripping an affix ("digit" is not "di" + "git").
_MIN_STEM = 4


#: E-mail addresses and links: never keywords ("reset.budi@contoh.go.id").
_UNWORDS = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.IGNORECASE)


def _fold(text: object) -> list[str]:
    """Lower-case words of `text` without punctuation (no slang replacement)."""
    folded = unicodedata.normalize("NFKC", str(text or "")).lower()
    return re.sub(r"[^0-9a-z]+", " ", folded).split()


def within_one_edit(a: str, b: str) -> bool:
    """True when `a` becomes `b` by at most one insertion, deletion, substitution or swap of
    two neighbouring letters ("blokr"/"blokir", "aktifasi"/"aktivasi", "emial"/"email")."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    for i, (x, y) in enumerate(zip(short, long[: len(short)], strict=True)):
        if x != y:
            return short[i:] == long[i + 1 :]
    return True


class KeywordTable:
    """Keys named by keywords in free text, tolerant of slang, affixes and one typo.

    Args:
        table: Key -> keywords (words or phrases, in any spelling the normaliser knows), in
            the order the assistant offers the choices.

    Raises:
        ValueError: When the table is empty or a key has no keyword.
    """

    def __init__(self, table: Mapping[str, Iterable[str]]) -> None:
        if not table:
            raise ValueError("a keyword table needs at least one key")
        # Keywords are matched in normalised text; the few the normaliser drops ("ya")
        # are matched in the text as typed.
        normalised: dict[str, tuple[str, ...]] = {}
        raw: dict[str, tuple[str, ...]] = {}
        for key, keywords in table.items():
            keywords = tuple(keywords)
            if not keywords:
                raise ValueError(f"key {key!r} has no keyword")
            normalised[key] = tuple(dict.fromkeys(n for n in map(normalize, keywords) if n))
            raw[key] = tuple(
                dict.fromkeys(" ".join(_fold(k)) for k in keywords if not normalize(k))
            )
        self._normalised = normalised
        self._raw = raw
        vocabulary: dict[str, None] = {}
        for forms in (*normalised.values(), *raw.values()):
            for form in forms:
                vocabulary.update(dict.fromkeys(form.split()))
        self._vocabulary = tuple(vocabulary)
        self._known = frozenset(vocabulary)

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys, in the table's order."""
        return tuple(self._normalised)

    def canonical(self, word: str) -> str:
        """The keyword word `word` stands for ("kblokir" -> "keblokir"), else `word`."""
        if word in self._known or not word.isalpha():
            return word
        stems = [word]
        stems += [word[len(p) :] for p in _PREFIXES if word.startswith(p)]
        stems += [word[: -len(s)] for s in _SUFFIXES if word.endswith(s)]
        stems = [s for s in stems if s == word or len(s) >= _MIN_STEM]
        for stem in stems:
            if stem in self._known:
                return stem
        for stem in stems:
            if len(stem) < MIN_FUZZY_LENGTH - 1:
                continue
            for known in self._vocabulary:
                if len(known) >= MIN_FUZZY_LENGTH and within_one_edit(stem, known):
                    return known
        return word

    def named(self, text: object) -> list[str]:
        """The keys whose keywords appear in `text` as whole words, in the table's order."""
        text = _UNWORDS.sub(" ", str(text or ""))
        normalised = self._padded(normalize(text).split())
        raw = self._padded(_fold(text))
        return [
            key
            for key in self._normalised
            if any(f" {form} " in normalised for form in self._normalised[key])
            or any(f" {form} " in raw for form in self._raw[key])
        ]

    def _padded(self, words: list[str]) -> str:
        return " " + " ".join(self.canonical(w) for w in words) + " "

    def picked(self, text: object, *, numbered: bool = True) -> str | None:
        """The key an answer picks exactly: the key itself ("email_check", as a slot holds
        it) or, when `numbered`, its number in the list ("2", "pilih 2"); else None."""
        stripped = str(text or "").strip()
        if stripped in self._normalised:
            return stripped
        if not numbered or not any(ch.isdigit() for ch in stripped):
            return None
        return parse_choice(stripped, dict.fromkeys(self._normalised, ()))


# --- DIGIT services -------------------------------------------------------------------

#: DIGIT services, in the order the assistant offers them (1-5), with the words citizens use.
DIGIT_SERVICE_KEYWORDS = KeywordTable(
    {
        "status": (
            "status",
            "cek status",
            "status akun",
            "cek akun",
            "status user",
            "cek user",
            "masih aktif",
            "sudah aktif",
        ),
        "email_check": (
            "email",
            "e mail",
            "cek email",
            "surel",
            "imel",
            "alamat email",
            "email terdaftar",
        ),
        "activation": (
            "aktivasi",
            "aktifasi",
            "aktivasikan",
            "aktifkan",
            "aktipkan",
            "mengaktifkan",
            "diaktifkan",
            "activation",
            "activate",
            "tidak aktif",
            "belum aktif",
            "nonaktif",
            "non aktif",
            "inactive",
        ),
        "reset": (
            "reset",
            "riset",
            "resset",
            "resett",
            "reset password",
            "lupa password",
            "ubah password",
            "password baru",
            "password salah",
            "password",
            "atur ulang",
        ),
        "unblock": (
            "buka blokir",
            "unblock",
            "unblok",
            "blokir",
            "keblokir",
            "diblokir",
            "terblokir",
            "blok",
            "keblok",
            "diblok",
            "blocked",
            "block",
            "terkunci",
            "kekunci",
            "dikunci",
            "kunci",
            "locked",
            "suspend",
            "disuspend",
            "dibekukan",
        ),
    }
)

#: Services that act on the account win over the checks when a request names both
#: ("aktivasi digit ... email x@y", "status akun keblokir").
DIGIT_ACTIONS: tuple[str, ...] = ("activation", "reset", "unblock")
#: Among the actions, a blocked account wins over a reset: unblocking also sets a new
#: password ("akun keblokir, mau reset password").
_DIGIT_OVERRIDES: dict[str, str] = {"reset": "unblock"}


def digit_service_of(text: object, *, numbered: bool = False) -> str | None:
    """The DIGIT service (status, email_check, activation, reset, unblock) `text` asks for.

    Args:
        text: A request ("akun digit sy keblokir", "lupa pw digit") or the answer to the
            service question (a keyword or button payload; with `numbered`, also "1"-"5").
        numbered: Whether a number picks the service by its place in the list.

    Returns:
        The service, or None when the text names none or several that no rule orders
        ("aktivasi atau reset?").
    """
    key = DIGIT_SERVICE_KEYWORDS.picked(text, numbered=numbered)
    if key:
        return key
    found = DIGIT_SERVICE_KEYWORDS.named(text)
    if len(found) > 1:
        found = [key for key in found if key in DIGIT_ACTIONS] or found
    for loser, winner in _DIGIT_OVERRIDES.items():
        if loser in found and winner in found:
            found.remove(loser)
    return found[0] if len(found) == 1 else None


# --- Ticket review --------------------------------------------------------------------

#: The ticket fields a citizen can change at the summary, in the form's order (1-4).
TICKET_FIELD_KEYWORDS = KeywordTable(
    {
        "subject": ("subjek", "subyek", "subject", "perihal", "judul", "topik"),
        "chronology": (
            "kronologi",
            "kronologis",
            "cerita",
            "deskripsi",
            "keterangan",
            "uraian",
            "penjelasan",
            "detail",
            "isi laporan",
        ),
        "attachment": (
            "lampiran",
            "lampirkan",
            "file",
            "dokumen",
            "berkas",
            "foto",
            "gambar",
            "tautan",
            "link",
            "screenshot",
            "tangkapan layar",
        ),
        "email": ("email", "e mail", "surel", "imel", "alamat email"),
    }
)
#: The answer that changes every field (the form asks them all again).
ALL_FIELDS = "all"
_ALL_WORDS = KeywordTable({ALL_FIELDS: ("semua", "semuanya", "seluruh", "dari awal")})
_REVIEW_WORDS = KeywordTable(
    {
        # Asking for a change.
        "edit": (
            "ubah",
            "diubah",
            "mengubah",
            "merubah",
            "edit",
            "perbaiki",
            "diperbaiki",
            "koreksi",
            "revisi",
            "ralat",
            "ulang",
            "isi ulang",
            "salah",
            "keliru",
            "betulkan",
            "update",
            # A "yes" denied.
            "tidak benar",
            "belum benar",
            "tidak betul",
            "tidak sesuai",
            "belum sesuai",
            "kurang sesuai",
            "tidak setuju",
            "jangan kirim",
            "belum kirim",
        ),
        # "Not right": a change, unless the same answer says to send.
        "not": ("tidak", "belum", "bukan", "kurang", "jangan"),
        "send": (
            "kirim",
            "kirim tiket",
            "ya",
            "iya",
            "ok",
            "oke",
            "benar",
            "sudah benar",
            "betul",
            "sesuai",
            "sudah sesuai",
            "setuju",
            "lanjut",
            "yes",
        ),
    }
)


@dataclass(frozen=True)
class ReviewAnswer:
    """What a citizen answered to the ticket summary.

    Attributes:
        send: Send the ticket as it is.
        edit: Change something; `fields` says what, when the answer names it.
        fields: Ticket fields named (`TICKET_FIELD_KEYWORDS` keys), in the form's order.
    """

    send: bool = False
    edit: bool = False
    fields: tuple[str, ...] = ()


def ticket_fields_of(text: object) -> tuple[str, ...]:
    """The ticket fields `text` names: keywords ("email", "ganti subjek"), a number 1-4, or
    every field for "semua"; () when it names none."""
    key = TICKET_FIELD_KEYWORDS.picked(text)
    if key:
        return (key,)
    if _ALL_WORDS.named(text):
        return TICKET_FIELD_KEYWORDS.keys
    return tuple(TICKET_FIELD_KEYWORDS.named(text))


def read_ticket_review(text: object) -> ReviewAnswer:
    """Read the answer to "is this ticket right?": send, change (which fields), or neither.

    A change wins over sending when the answer asks for one ("ya, ganti email"): sending is
    the step that cannot be undone. A bare field name ("emailnya") asks to change it.
    """
    words = _REVIEW_WORDS.named(text)
    fields = ticket_fields_of(text)
    if "edit" in words or ("not" in words and "send" not in words):
        return ReviewAnswer(edit=True, fields=fields)
    if "send" in words:
        return ReviewAnswer(send=True)
    if fields:
        return ReviewAnswer(edit=True, fields=fields)
    return ReviewAnswer()


def wants_no_change(text: object) -> bool:
    """True when the answer to "which field?" says nothing needs changing ("tidak ada",
    "sudah benar", "kirim") and names no field."""
    if ticket_fields_of(text):
        return False
    words = _REVIEW_WORDS.named(text)
    return "send" in words or "not" in words
