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
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from stack import MODEL, Stack  # noqa: E402

pytestmark = pytest.mark.live

TOKEN = "handoff-live-token"
TIMEOUT_SECONDS = 8
TICKET_ID = re.compile(r"\b\d{8}-[A-Z]{6}\b")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not MODEL.is_file():
        pytest.skip("no trained model (make train)")
    env = {
        "RASA_API_TOKEN": TOKEN,
        "HELPDESK_OFFICE_HOURS_FILE": str(ROOT / "tests" / "always_open_office_hours.yml"),
        "HELPDESK_HANDOFF_TIMEOUT_MINUTES": str(TIMEOUT_SECONDS / 60),
    }
    with Stack(rasa=True, desk=True, env=env) as running:
        yield running


def say(stack: Stack, sender: str, text: str) -> list[dict[str, Any]]:
    response = requests.post(stack.rest_url, json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return response.json()


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def tracker_events(stack: Stack, sender: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": TOKEN, "include_events": "ALL"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["events"]


def bot_texts_after(events: list[dict[str, Any]], marker: str) -> list[str]:
    """Bot texts after the last user message whose text is `marker`."""
    start = max(
        i for i, e in enumerate(events) if e.get("event") == "user" and e.get("text") == marker
    )
    return [e.get("text") or "" for e in events[start:] if e.get("event") == "bot"]


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


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

    from helpdesk.storage.db import make_engine, make_session_factory
    from helpdesk.storage.repositories import TicketRepository

    engine = make_engine(stack.env["HELPDESK_DATABASE_URL"])
    try:
        ticket = TicketRepository(make_session_factory(engine)).get(ticket_id)
    finally:
        engine.dispose()
    assert ticket is not None
    assert ticket.sender_id == sender
    assert "SP2D kami belum cair sejak kemarin" in ticket.chronology
    assert "bicara dengan petugas" in ticket.chronology
