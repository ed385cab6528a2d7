"""Whether a message asks *about* a service or asks to *run* it.

"bagaimana cara reset password sakti?" wants the how-to answer from the knowledge base;
"reset password sakti saya" wants the reset. The NLU model sees the topic (SAKTI, reset) in
both, so the intent classifier alone confuses them. This module reads the shape of the
question on the normalised text (`helpdesk.knowledge.normalize`: "gmn cr" is "bagaimana cara"):

- how-to, why and where-to questions ("cara ...", "prosedur", "syarat", "kenapa", "kemana",
  "apa itu", "bagaimana ...") are questions about the service;
- a question about the citizen's own case ("statusnya gimana", "apakah sp2d kami sudah
  terbit", "progres tiket saya") or a message carrying an identifier (a run of 6 or more
  digits: NIK, SP2D number, work-unit code) is a request to run it.

Plain Python (no rasa imports): the NLU component `components.question_router` applies it.
"""

from __future__ import annotations

import re

from helpdesk.knowledge.normalize import normalize

#: Words that make a message a how-to / why / where-to question wherever they stand.
HOWTO_WORDS = frozenset(
    {
        "cara",
        "caranya",
        "prosedur",
        "prosedurnya",
        "syarat",
        "syaratnya",
        "persyaratan",
        "langkah",
        "langkahnya",
        "tahapan",
        "panduan",
        "kenapa",
        "mengapa",
        "kemana",
        "dimana",
    }
)
#: Word pairs with the same effect ("apa itu sakti", "ke mana lapornya").
HOWTO_PAIRS = frozenset({("apa", "itu"), ("ke", "mana"), ("di", "mana"), ("tata", "cara")})
#: "bagaimana" is a how-to question unless the message is about the state of the citizen's
#: own case ("statusnya bagaimana", "progres tiket saya gimana").
HOW_WORD = "bagaimana"
CASE_STATE_WORDS = frozenset(
    {"status", "statusnya", "progres", "progress", "perkembangan", "kabar", "nasib", "posisi"}
)
#: A run of digits this long is an identifier the citizen gave: they want it looked up.
_IDENTIFIER_RE = re.compile(r"\d{6,}")


def is_question_about_service(text: str) -> bool:
    """True when `text` asks how a service works rather than asking to use it.

    Args:
        text: The message as the citizen wrote it (informal spelling is fine).

    Returns:
        False for empty text, button payloads ("/intent{...}"), messages with an identifier
        and questions about the citizen's own case; True for how-to, why and where-to
        questions.
    """
    raw = (text or "").strip()
    if not raw or raw.startswith("/") or _IDENTIFIER_RE.search(raw.replace(" ", "")):
        return False
    words = normalize(raw).split()
    if not words:
        return False
    if any(word in HOWTO_WORDS for word in words):
        return True
    if any(pair in HOWTO_PAIRS for pair in zip(words, words[1:], strict=False)):
        return True
    if HOW_WORD in words:
        return not any(word in CASE_STATE_WORDS for word in words)
    return False


#: Words a question starts with ("berapa lama ...", "kapan ...", "gimana ...").
QUESTION_STARTS = frozenset(
    {"apa", "apakah", "bagaimana", "berapa", "kapan", "siapa", "kenapa", "mengapa", "dimana"}
    | {"kemana", "bisakah", "bolehkah", "adakah", "mana"}
)


def reads_as_question(text: str) -> bool:
    """True when `text` is a question of its own (a "?", a question word first, or a how-to
    question), not an answer to what was asked: a visitor asked for their name who asks
    something instead."""
    raw = (text or "").strip()
    if not raw or raw.startswith("/"):
        return False
    words = normalize(raw).split()
    if len(words) < 2:
        return False
    return raw.endswith("?") or words[0] in QUESTION_STARTS or is_question_about_service(raw)
