"""Validation of what citizens type into forms: e-mail addresses and attachments."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError
from email_validator import validate_email as _validate_email

#: Candidate e-mail addresses inside free text ("email saya budi@contoh.go.id ya").
_EMAIL_CANDIDATE = re.compile(r"[^\s<>()\[\]{},;:\"'@]+@[^\s<>()\[\]{},;:\"'@]+")
#: Characters trimmed from the ends of a candidate (sentence punctuation).
_TRIM = ".,;:!?)(<>[]{}\"'`"
#: A channel media id: 5-128 letters, digits and `_ . : -`.
_MEDIA_ID = re.compile(r"[A-Za-z0-9_.:\-]{5,128}")
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)


def validate_email(text: str) -> str | None:
    """The normalised e-mail address in `text`, or None when there is no valid one.

    Accepts a bare address or a sentence holding one ("email saya budi@contoh.go.id ya").
    Syntax only: no DNS look-up (the assistant runs without network).

    Args:
        text: What the user typed.

    Returns:
        The address with its domain lower-cased (as `email_validator` normalises it), or None.
    """
    if not text:
        return None
    for candidate in _EMAIL_CANDIDATE.findall(text):
        candidate = candidate.strip(_TRIM)
        try:
            result = _validate_email(candidate, check_deliverability=False)
        except EmailNotValidError:
            continue
        return str(result.normalized)
    return None


def validate_attachment(text: str) -> str | None:
    """An attachment reference from `text`: an http(s) URL or a channel media id, else None.

    A URL may stand inside a sentence ("ini linknya https://... ya"); a media id must be
    the whole (trimmed) text: 5-128 characters of letters, digits and `_ . : -`, with at
    least one digit (so a plain word such as "tidak" is not taken for a media id).

    Args:
        text: What the user typed, or the media id a channel put in the slot.

    Returns:
        The URL or media id, or None.
    """
    if not text:
        return None
    stripped = text.strip()
    match = _URL.search(stripped)
    if match:
        url = match.group(0).rstrip(".,;:!?)'\"")
        host = url.split("://", 1)[1].split("/", 1)[0]
        return url if ("." in host or host.startswith("localhost")) else None
    if _MEDIA_ID.fullmatch(stripped) and any(ch.isdigit() for ch in stripped):
        return stripped
    return None
