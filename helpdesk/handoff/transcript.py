"""A conversation as plain text, for tickets made from a conversation (offline messages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

#: How each speaker is named in a transcript.
SPEAKERS = {"user": "Warga", "bot": "Asisten"}


@dataclass(frozen=True)
class Turn:
    """One message of a conversation: who ("user" or "bot"), what, and when (UTC)."""

    speaker: str
    text: str
    at: datetime | None = None


def turns_from_events(events: list[dict]) -> list[Turn]:
    """The user and bot messages of the latest session in Rasa tracker events (as dicts)."""
    start = 0
    for index, event in enumerate(events):
        if event.get("event") in {"session_started", "restart"}:
            start = index + 1
    turns: list[Turn] = []
    for event in events[start:]:
        kind = event.get("event")
        if kind not in SPEAKERS:
            continue
        text = str(event.get("text") or "").strip()
        if not text:
            continue
        stamp = event.get("timestamp")
        at = datetime.fromtimestamp(stamp, tz=timezone.utc) if stamp else None
        turns.append(Turn(kind, text, at))
    return turns


def format_transcript(turns: list[Turn], tz: tzinfo, max_chars: int = 20000) -> str:
    """ "[09.31] Warga: ..." lines; the oldest turns are cut first when over `max_chars`."""
    lines = []
    for turn in turns:
        when = f"[{turn.at.astimezone(tz):%H.%M}] " if turn.at else ""
        text = turn.text.replace("\n", "\n    ")
        lines.append(f"{when}{SPEAKERS[turn.speaker]}: {text}")
    text = "\n".join(lines)
    if len(text) > max_chars:
        text = "…\n" + text[-max_chars:]
    return text or "(percakapan kosong)"
