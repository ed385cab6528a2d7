"""The handoff queue end to end over REST, with the agent desk's worker running.

The whole assistant runs (scripts/stack.py with `desk=True`), office hours always open and a
handoff timeout of a few seconds. Covered: the queue message, the bot's silence while queued
(the citizen's messages are kept in the tracker for the agent), "batal" leaving the queue and
the bot answering again, and a request nobody takes becoming a ticket with the transcript
whose id the citizen is told.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from handoff_play import desk_services, handoff_env, say, texts, tracker_events, wait_for  # noqa: E402
from stack import MODEL, Stack  # noqa: E402

pytestmark = pytest.mark.live

TIMEOUT_SECONDS = 8
TICKET_ID = re.compile(r"\b\d{8}-[A-Z]{6}\b")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not MODEL.is_file():
        pytest.skip("no trained model (make train)")
    with Stack(rasa=True, desk=True, env=handoff_env(TIMEOUT_SECONDS / 60)) as running:
        yield running


def bot_texts_after(events: list[dict[str, Any]], marker: str) -> list[str]:
    """Bot texts after the last user message whose text is `marker`."""
    start = max(
        i for i, e in enumerate(events) if e.get("event") == "user" and e.get("text") == marker
    )
    return [e.get("text") or "" for e in events[start:] if e.get("event") == "bot"]


def test_batal_leaves_the_queue_and_the_bot_answers_again(stack):
    sender = "6281377700101"
    say(stack, sender, "halo")
    queued = texts(say(stack, sender, "saya mau bicara dengan petugas"))
    assert "antrean" in queued.lower()

    # Queued: the bot stays silent, the message is kept for the agent.
    assert say(stack, sender, "printer saya rusak") == []
    assert any(
        e.get("event") == "user" and e.get("text") == "printer saya rusak"
        for e in tracker_events(stack, sender)
    )

    assert say(stack, sender, "batal") == []
    resumed = wait_for(
        lambda: any(e.get("event") == "resume" for e in tracker_events(stack, sender)),
        15,
        "the conversation to be resumed after batal",
    )
    assert resumed
    after = " ".join(bot_texts_after(tracker_events(stack, sender), "batal")).lower()
    assert "antrean" in after  # "Anda telah keluar dari antrean ..."

    # The bot answers again.
    assert say(stack, sender, "menu")


def test_a_request_nobody_takes_becomes_a_ticket(stack):
    sender = "6281377700102"
    say(stack, sender, "halo")
    say(stack, sender, "SP2D kami belum cair sejak kemarin")
    assert "antrean" in texts(say(stack, sender, "bicara dengan petugas")).lower()

    def ticket_message() -> str | None:
        for text in bot_texts_after(tracker_events(stack, sender), "bicara dengan petugas"):
            if TICKET_ID.search(text):
                return text
        return None

    message = wait_for(ticket_message, TIMEOUT_SECONDS + 20, "the ticket message")
    ticket_id = TICKET_ID.search(message).group(0)

    with desk_services(stack) as services:
        ticket = services.ticket_repository.get(ticket_id)
    assert ticket is not None
    assert ticket.sender_id == sender
    assert "SP2D kami belum cair sejak kemarin" in ticket.chronology
    assert "bicara dengan petugas" in ticket.chronology
