"""The cached action-response validator accepts and rejects exactly what Rasa's does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from components import extensions, rasa_speedups

extensions.apply()  # as the Rasa server does when it loads the model

GOOD = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "faq_id", "value": "x"}], "responses": [{"text": "a"}]},
    {},
]
BAD = [
    {"events": [{"name": "missing event type"}], "responses": []},
    {"events": "not a list"},
    {"events": [{"event": 5}]},
]


def test_patch_is_installed():
    assert rasa_speedups.apply() is True
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result


@pytest.mark.parametrize("payload", GOOD)
def test_accepts_what_rasa_accepts(payload):
    validate(payload, RemoteAction.action_response_format_spec())  # Rasa's own check passes
    assert RemoteAction("action_x", None)._validate_action_result(payload) is True


@pytest.mark.parametrize("payload", BAD)
def test_rejects_what_rasa_rejects_with_the_same_error(payload):
    with pytest.raises(ValidationError) as expected:
        validate(payload, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError) as got:
        RemoteAction("action_x", None)._validate_action_result(payload)
    assert got.value.message.startswith(expected.value.message)
    assert "Failed to validate Action server response" in got.value.message


def test_event_types_resolve_as_before():
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

    assert getattr(Event.resolve_by_type, "_helpdesk_speedup", False)
    for _ in range(2):  # uncached, then cached
        assert Event.resolve_by_type("user") is UserUttered
        assert Event.resolve_by_type("slot") is SlotSet
        assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no-such-event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no-such-event")


def test_events_round_trip_through_the_patched_lookup():
    from rasa.shared.core.events import Event, SlotSet

    event = Event.from_parameters({"event": "slot", "name": "faq_id", "value": "sp2d"})
    assert event == SlotSet("faq_id", "sp2d")
