"""Tests of action_leave_queue: "batal" while waiting in the agents' queue, answered at once.

The handoffs are real rows in a temp SQLite database, queued, taken and ended through
`HandoffService` as the assistant and the agent desk do; the tracker is paused as Rasa keeps
a queued conversation.
"""

from __future__ import annotations

import pytest

from actions.leave_queue import ActionLeaveQueue
from helpdesk.services import Services
from helpdesk.storage.db import session_scope
from helpdesk.storage.models import DeskUser
from tests.actions.conftest import (
    Broken,
    domain_dict,
    failing_property,
    make_tracker,
    responses,
    slot_events,
)

SENDER = "6281234567890"
RESUME = {"event": "resume", "timestamp": None}
PAUSE = {"event": "pause", "timestamp": None}
WAITING = {"handoff_route": "queue", "handoff_waiting": True}


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


def queued(services: Services) -> int:
    return services.handoff.request(SENDER, channel="rest").handoff.id


async def batal(services: Services, dispatcher, *, paused: bool = True, **kwargs) -> list[dict]:
    kwargs.setdefault("slots", dict(WAITING))
    tracker = make_tracker("batal", intent="cancel", sender_id=SENDER, paused=paused, **kwargs)
    return await ActionLeaveQueue(services).run(dispatcher, tracker, domain_dict())


def stays_paused(events: list[dict]) -> bool:
    """The conversation is paused again and the bot's turn ends (nothing is predicted after)."""
    listen = events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"
    return events[-2] == PAUSE and listen and RESUME not in events


async def test_waiting_leaves_the_queue_and_the_bot_says_so_at_once(services, dispatcher):
    handoff_id = queued(services)

    events = await batal(services, dispatcher)

    assert responses(dispatcher) == ["utter_handoff_cancelled"]
    assert events[0] == RESUME and PAUSE not in events
    assert slot_events(events) == {"handoff_waiting": None, "handoff_route": None}
    record = services.handoffs.get(handoff_id)
    assert record.status == "cancelled" and record.ended_at is not None
    # Marked resumed with the ending: the desk worker will not resume it (or say it) again.
    assert record.bot_resumed_at is not None
    assert services.handoffs.pending_resume(record.ended_at) == []


async def test_held_by_an_agent_batal_is_for_the_agent_and_the_bot_stays_silent(
    services, dispatcher
):
    handoff_id = queued(services)
    agent = add_agent(services)
    services.handoff.take(handoff_id, agent, 3)

    events = await batal(services, dispatcher)

    assert dispatcher.messages == []
    assert stays_paused(events)
    assert slot_events(events) == {"handoff_waiting": None}  # "batal" now goes to the agent
    record = services.handoffs.get(handoff_id)
    assert (record.status, record.agent_id, record.bot_resumed_at) == ("assigned", agent, None)


async def test_ended_meanwhile_the_desk_worker_tells_how_and_the_bot_stays_silent(
    services, dispatcher
):
    handoff_id = queued(services)
    assert services.handoff.expire(handoff_id)  # the worker's pass came first

    events = await batal(services, dispatcher)

    assert dispatcher.messages == []
    assert stays_paused(events)
    record = services.handoffs.get(handoff_id)
    assert (record.status, record.bot_resumed_at) == ("expired", None)  # the worker resumes it


@pytest.mark.parametrize(
    ("active_loop", "reply"),
    [(None, "utter_nothing_to_cancel"), ("ticket_form", "utter_cancelled")],
)
async def test_without_a_handoff_batal_is_the_ordinary_cancel(
    services, dispatcher, active_loop, reply
):
    services.handoff.request("6289999999999")  # someone else's

    events = await batal(services, dispatcher, paused=False, active_loop=active_loop)

    assert responses(dispatcher) == [reply]
    assert RESUME not in events and PAUSE not in events
    assert slot_events(events)["handoff_waiting"] is None
    if active_loop:
        assert {"event": "active_loop", "name": None, "timestamp": None} in events


async def test_a_conversation_left_paused_without_a_handoff_is_resumed(services, dispatcher):
    handoff_id = queued(services)
    assert services.handoff.leave_queue(SENDER).value == "left"  # its reply never reached Rasa
    assert services.handoffs.get(handoff_id).bot_resumed_at is not None

    events = await batal(services, dispatcher)

    assert responses(dispatcher) == ["utter_handoff_cancelled"]
    assert events[0] == RESUME
    assert slot_events(events)["handoff_waiting"] is None


async def test_a_database_error_is_said_and_the_conversation_stays_queued(
    services, dispatcher, monkeypatch
):
    monkeypatch.setattr(Services, "handoff", failing_property())

    events = await batal(services, dispatcher)

    assert responses(dispatcher) == ["utter_technical_problem"]
    assert stays_paused(events)


async def test_a_broken_repository_is_said_too(services, dispatcher, monkeypatch):
    monkeypatch.setattr(Services, "handoffs", property(lambda self: Broken()))

    events = await batal(services, dispatcher)

    assert responses(dispatcher) == ["utter_technical_problem"]
    assert stays_paused(events)


def test_the_action_slot_and_reply_are_in_the_domain():
    from actions import slots
    from components.queue_leave import HANDOFF_WAITING_SLOT

    domain = domain_dict()
    assert "action_leave_queue" in domain["actions"]
    assert slots.HANDOFF_WAITING == HANDOFF_WAITING_SLOT
    slot = domain["slots"][slots.HANDOFF_WAITING]
    assert (slot["type"], slot["influence_conversation"]) == ("bool", True)
    assert "antrean" in domain["responses"]["utter_handoff_cancelled"][0]["text"]
