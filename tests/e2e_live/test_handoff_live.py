"""The handoff queue end to end over REST, with the agent desk's worker running.

The whole assistant runs (tests/support/stack.py with `desk=True`), office hours always open and a
handoff timeout of a few seconds. Covered: the queue message, the bot's silence while queued
(the citizen's messages are kept in the tracker for the agent), "batal" leaving the queue in
the reply to "batal" itself (REST is synchronous: nothing said later reaches the citizen) and
the very next question answered, "batal" staying a message for the agent once an agent holds
the conversation, and a request nobody takes becoming a ticket with the transcript whose id
the citizen is told.
"""

from __future__ import annotations

import re
import time
from typing import Any, Iterator

import pytest

from tests.support.handoff_play import (
    create_agent,
    desk_services,
    handoff_env,
    say,
    texts,
    tracker_events,
    wait_for,
)
from tests.support.stack import MODEL, Stack

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

    # "batal" is answered in its own reply: "Anda telah keluar dari antrean ...".
    left = texts(say(stack, sender, "batal"))
    assert "keluar dari antrean" in left, left
    with desk_services(stack) as services:
        handoff = services.handoffs.latest_for(sender)
    assert handoff is not None
    assert (handoff.status, handoff.bot_resumed_at is not None) == ("cancelled", True)

    # The bot answers again, the very next question in its own reply.
    answer = texts(say(stack, sender, "apa itu sp2d"))
    assert "Surat Perintah Pencairan Dana" in answer, answer

    # The desk worker (a pass every 2 s) does not resume it or say it a second time.
    time.sleep(5)
    events = tracker_events(stack, sender)
    told = [t for t in bot_texts_after(events, "batal") if "keluar dari antrean" in t]
    assert len(told) == 1, told
    assert [e["event"] for e in events].count("resume") == 1


def test_batal_while_an_agent_holds_the_conversation_is_for_the_agent(stack):
    sender = "6281377700103"
    say(stack, sender, "halo")
    assert "antrean" in texts(say(stack, sender, "bicara dengan petugas")).lower()
    with desk_services(stack) as services:
        agent = create_agent(services, "rina-batal", "Rina", "rahasia-rina-123")
        handoff = services.handoffs.open_for(sender)
        assert handoff is not None
        services.handoff.take(handoff.id, agent.id, 3)

    # The bot stays silent; the agent sees "batal" like any other message.
    assert say(stack, sender, "batal") == []
    assert say(stack, sender, "printer saya masih rusak") == []
    events = tracker_events(stack, sender)
    assert any(e.get("event") == "user" and e.get("text") == "batal" for e in events)
    assert not bot_texts_after(events, "batal")
    with desk_services(stack) as services:
        held = services.handoffs.get(handoff.id)
    assert held is not None
    assert (held.status, held.agent_id, held.bot_resumed_at) == ("assigned", agent.id, None)


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
