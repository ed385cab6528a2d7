"""The words with which a citizen stops or restarts broadcasts on WhatsApp (pure).

A whole message "BERHENTI" or "STOP" (any case, with or without punctuation; also
"berhenti berlangganan", "stop langganan", "unsubscribe") opts the number out of every later
broadcast; "MULAI" / "START" / "berlangganan lagi" opts it in again. Only the whole message
counts: "stop dulu, saya mau tanya" is an ordinary message.

The WhatsApp channel turns such a message into the intent payload (`/broadcast_opt_out`,
`/broadcast_opt_in`), so the dialogue answers it whatever NLU would read (`action_broadcast_
consent` records it and confirms).
"""

from __future__ import annotations

import re
import unicodedata

#: The intents a consent message becomes (domain/broadcasts.yml).
OPT_OUT_INTENT = "broadcast_opt_out"
OPT_IN_INTENT = "broadcast_opt_in"

_OPT_OUT = {
    "berhenti",
    "stop",
    "unsubscribe",
    "berhenti berlangganan",
    "berhenti langganan",
    "stop langganan",
    "stop berlangganan",
    "stop siaran",
    "berhenti siaran",
}
_OPT_IN = {
    "mulai",
    "start",
    "subscribe",
    "berlangganan",
    "berlangganan lagi",
    "mulai berlangganan",
    "mulai langganan",
    "langganan lagi",
}


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", folded).split())


def consent_intent(text: object) -> str | None:
    """`OPT_OUT_INTENT` or `OPT_IN_INTENT` when the whole message is a consent keyword."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    folded = _fold(text)
    if folded in _OPT_OUT:
        return OPT_OUT_INTENT
    if folded in _OPT_IN:
        return OPT_IN_INTENT
    return None
