"""Tests of action_handoff_end: the bot takes the conversation back after a handoff ended.

The handoffs are real rows in a temp SQLite database, ended through `HandoffService` as the
agent desk ends them.
"""

from __future__ import annotations

import re

import pytest

from actions.handoff_end import ActionHandoffEnd
from helpdesk.services import Services
from helpdesk.storage.db import session_scope
from helpdesk.storage.models import DeskUser
from tests.actions.conftest import domain_dict, make_tracker, responses, slot_events

SENDER = "6281234567890"
RESUME = {"event": "resume", "timestamp": None}
LISTEN = {"event": "action", "name": "action_listen"}


def add_agent(services: Services) -> int:
    with session_scope(services.session_factory) as session:
        user = DeskUser(
            username="sari",
            display_name="Sari",
            password_hash="scrypt$unused",
            role="agent",
            active=True,
            online=True,
            max_conversations=3,
        )
        session.add(user)
        session.flush()
        return user.id


def resolved(services: Services) -> int:
    handoff_id = services.handoff.request(SENDER).handoff.id
    services.handoff.take(handoff_id, add_agent(services), 3)
    assert services.handoff.resolve(handoff_id)
    return handoff_id


def event_names(events: list[dict]) -> list[str]:
    return [e["event"] for e in events]


def is_listen(event: dict) -> bool:
    return event["event"] == "action" and event["name"] == "action_listen"


async def run(services: Services, dispatcher, **tracker_args) -> list[dict]:
    tracker = make_tracker(sender_id=SENDER, **tracker_args)
    return await ActionHandoffEnd(services).run(dispatcher, tracker, domain_dict())


async def test_resolved_thanks_and_starts_the_agent_rating(services, dispatcher):
    handoff_id = resolved(services)

    events = await run(services, dispatcher, slots={"handoff_route": "queue"})

    assert responses(dispatcher) == ["utter_handoff_resolved", "utter_ask_agent_rating"]
    assert events[0] == RESUME
    assert {"event": "active_loop", "name": "csat_form", "timestamp": None} in events
    assert slot_events(events) == {
        "handoff_route": None,
        "handoff_waiting": None,
        "awaiting_feedback": False,
        "csat_rating": None,
        "csat_kind": "agent",
        "handoff_id": str(handoff_id),
        "requested_slot": "csat_rating",
    }
    # The form is active and asking before the action_listen that ends the bot's turn, so
    # the citizen's next message ("5", "4 - puas") is the rating.
    loop_at = events.index({"event": "active_loop", "name": "csat_form", "timestamp": None})
    assert is_listen(events[-1]) and loop_at < len(events) - 1


async def test_cancelled_resumes_and_points_to_the_menu(services, dispatcher):
    handoff_id = services.handoff.request(SENDER).handoff.id
    assert services.handoff.cancel(handoff_id)

    events = await run(services, dispatcher)

    assert responses(dispatcher) == ["utter_handoff_cancelled"]
    assert events[0] == RESUME and is_listen(events[-1])
    assert slot_events(events) == {"handoff_route": None, "handoff_waiting": None}
    assert "active_loop" not in event_names(events)


async def test_expired_resumes_with_the_ticket_number(services, dispatcher):
    handoff_id = services.handoff.request(SENDER).handoff.id
    assert services.handoff.expire(handoff_id)
    ticket_id = services.handoff.ticket_for_expired(services.handoffs.get(handoff_id), [])

    events = await run(services, dispatcher)

    assert responses(dispatcher) == ["utter_handoff_expired"]
    assert dispatcher.messages[0]["ticket_number"] == ticket_id
    assert events[0] == RESUME and is_listen(events[-1])


async def test_expired_without_a_ticket_offers_one(services, dispatcher):
    handoff_id = services.handoff.request(SENDER).handoff.id
    assert services.handoff.expire(handoff_id)

    events = await run(services, dispatcher)

    assert responses(dispatcher) == ["utter_handoff_expired_no_ticket"]
    assert events[0] == RESUME


@pytest.mark.parametrize("state", ["waiting", "assigned"])
async def test_an_open_handoff_changes_nothing(services, dispatcher, state):
    handoff_id = services.handoff.request(SENDER).handoff.id
    if state == "assigned":
        services.handoff.take(handoff_id, add_agent(services), 3)

    assert await run(services, dispatcher) == []
    assert dispatcher.messages == []


async def test_without_a_handoff_nothing_happens(services, dispatcher):
    services.handoff.request("6289999999999")  # someone else's

    assert await run(services, dispatcher) == []
    assert dispatcher.messages == []


async def test_a_handoff_already_resumed_is_not_ended_twice(services, dispatcher):
    handoff_id = resolved(services)
    services.handoffs.mark_resumed(handoff_id)

    assert await run(services, dispatcher) == []
    assert dispatcher.messages == []


async def test_the_latest_handoff_decides(services, dispatcher):
    first = services.handoff.request(SENDER).handoff.id
    assert services.handoff.cancel(first)
    services.handoffs.mark_resumed(first)
    resolved(services)

    await run(services, dispatcher)

    assert responses(dispatcher)[0] == "utter_handoff_resolved"


def test_the_replies_exist_with_their_values():
    domain = domain_dict()
    texts = {name: domain["responses"][name][0]["text"] for name in domain["responses"]}
    assert set(re.findall(r"{(\w+)}", texts["utter_handoff_expired"])) == {"ticket_number"}
    assert "cek status tiket" in texts["utter_handoff_expired"].lower()
    assert "antrean" in texts["utter_handoff_cancelled"]
    assert "menu" in texts["utter_handoff_cancelled"]
    assert "petugas" in texts["utter_ask_agent_rating"]
    assert "nilai 1 sampai 5" in texts["utter_ask_agent_rating"]
    # The same 1-5 buttons as the FAQ rating.
    buttons = domain["responses"]["utter_ask_agent_rating"][0]["buttons"]
    faq_buttons = domain["responses"]["utter_ask_csat_rating"][0]["buttons"]
    assert buttons == faq_buttons and len(buttons) == 5
    assert "action_handoff_end" in domain["actions"]
    assert {"csat_kind", "handoff_id"} <= set(domain["slots"])
