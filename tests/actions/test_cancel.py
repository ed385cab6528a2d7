"""Tests of action_cancel."""

from __future__ import annotations

from actions.cancel import ActionCancel
from tests.actions.conftest import make_tracker, responses, slot_events


async def test_cancel_leaves_the_form_and_clears_its_slots(dispatcher):
    tracker = make_tracker(
        "batal",
        intent="cancel",
        active_loop="ticket_form",
        slots={"ticket_subject": "SP2D belum cair", "requested_slot": "ticket_email"},
    )

    events = await ActionCancel().run(dispatcher, tracker, {})

    assert events[0] == {"event": "active_loop", "name": None, "timestamp": None}
    slots = slot_events(events)
    assert slots["requested_slot"] is None
    assert all(slots[name] is None for name in ("ticket_subject", "ticket_email"))
    assert responses(dispatcher) == ["utter_cancelled"]


async def test_cancel_of_the_rating_clears_the_rating(dispatcher):
    tracker = make_tracker("stop", intent="cancel", active_loop="csat_form")

    events = await ActionCancel().run(dispatcher, tracker, {})

    assert slot_events(events)["csat_rating"] is None
    assert responses(dispatcher) == ["utter_cancelled"]


async def test_cancel_without_a_form_says_there_is_nothing_to_cancel(dispatcher):
    events = await ActionCancel().run(dispatcher, make_tracker("batal", intent="cancel"), {})

    assert responses(dispatcher) == ["utter_nothing_to_cancel"]
    assert not any(e["event"] == "active_loop" for e in events)
