"""IncrementalStatesTracker gives exactly what Rasa's DialogueStateTracker gives.

Every story and rule of the assistant (data/) is replayed event by event; after each event the
past states (for every kind of call the policies make), the applied events and a copy of the
tracker are compared with Rasa's own computation on a plain tracker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.shared.core.constants import RULE_ONLY_LOOPS, RULE_ONLY_SLOTS, USER
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from components.incremental_tracker import IncrementalStatesTracker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain"))


@pytest.fixture(scope="module")
def story_events(domain: Domain) -> List[List[Event]]:
    """The events of every story and rule of data/, as Rasa's training generates them."""
    steps = []
    for path in sorted((ROOT / "data").rglob("*.yml")):
        if YAMLStoryReader.is_stories_file(path):
            steps += YAMLStoryReader(domain, str(path)).read_from_file(str(path))
    assert steps, "no stories or rules found under data/"
    trackers = TrainingDataGenerator(
        StoryGraph(steps), domain, remove_duplicates=False, augmentation_factor=0
    ).generate()
    return [list(tracker.events) for tracker in trackers]


def _rule_only_data(domain: Domain) -> Dict[str, Any]:
    return {
        RULE_ONLY_SLOTS: [slot.name for slot in domain.slots][::2],
        RULE_ONLY_LOOPS: list(domain.form_names)[::2],
    }


def _kinds(domain: Domain) -> List[Dict[str, Any]]:
    """The calls MemoizationPolicy and RulePolicy make, and the defaults."""
    rule_only = _rule_only_data(domain)
    return [
        {},
        {"ignore_rule_only_turns": True, "rule_only_data": rule_only},
        {"ignore_rule_only_turns": False, "rule_only_data": rule_only},
        {"omit_unset_slots": True},
    ]


def _copy_state(tracker: DialogueStateTracker) -> Dict[str, Any]:
    """What a tracker is, for comparing two copies (events compared by identity)."""
    state = {
        key: value
        for key, value in vars(tracker).items()
        if not key.startswith("_helpdesk") and key not in ("events", "slots")
    }
    state["events"] = [id(event) for event in tracker.events]
    state["slots"] = {name: (slot.value, slot.has_been_set) for name, slot in tracker.slots.items()}
    return state


def _check(tracker: IncrementalStatesTracker, reference: DialogueStateTracker, domain: Domain):
    applied = tracker.applied_events()
    expected_applied = reference.applied_events()
    assert [id(e) for e in applied] == [id(e) for e in expected_applied]
    for kind in _kinds(domain):
        states = tracker.past_states(domain, **kind)
        assert states == domain.states_for_tracker_history(reference, **kind), kind
        # Callers edit the user part in place (the featurizers drop text or intent): that
        # must not reach the next call.
        for state in states:
            state.get(USER, {}).clear()
    duplicate = tracker.copy()
    assert type(duplicate) is IncrementalStatesTracker
    assert _copy_state(duplicate) == _copy_state(DialogueStateTracker.copy(reference))
    assert duplicate.events is not tracker.events
    assert all(a is not b for a, b in zip(duplicate.slots.values(), tracker.slots.values()))
    # What the copy's events change must not change the tracker (Rasa's copy is a replay).
    assert tracker.active_loop is None or duplicate.active_loop is not tracker.active_loop


def _replay(events: List[Event], domain: Domain) -> None:
    tracker = IncrementalStatesTracker("s", domain.slots)
    reference = DialogueStateTracker("s", domain.slots)
    for event in events:
        tracker.update(event)
        reference.update(event)
        _check(tracker, reference, domain)


def test_every_story_and_rule_gives_rasas_states_applied_events_and_copies(
    story_events: List[List[Event]], domain: Domain
) -> None:
    assert len(story_events) > 50
    for events in story_events:
        _replay(events, domain)


def test_reverts_restarts_sessions_and_a_loop_named_late(domain: Domain) -> None:
    form = sorted(domain.form_names)[0]
    slot = next(slot.name for slot in domain.slots if slot.name != "requested_slot")
    user = UserUttered("halo", {"name": "greet", "confidence": 1.0})
    events: List[Event] = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        user,
        ActionExecuted("utter_greet"),
        ActionExecuted("action_listen"),
        UserUttered("tanya", {"name": "ask_question", "confidence": 1.0}),
        UserUtteranceReverted(),
        ActionExecuted("action_listen"),
        UserUttered("buat tiket", {"name": "create_ticket", "confidence": 1.0}),
        ActionExecuted(form),
        ActiveLoop(form),
        SlotSet("requested_slot", slot),
        ActionExecuted("action_listen"),
        UserUttered("isi", {"name": "inform", "confidence": 1.0}),
        ActionExecuted(form),
        SlotSet(slot, "nilai"),
        ActionExecuted("action_listen"),
        UserUttered("lagi", {"name": "inform", "confidence": 1.0}),
        ActionExecuted(form),
        ActionReverted(),
        ActionExecuted(form),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        ActionExecuted("action_listen"),
        Restarted(),
        ActionExecuted("action_listen"),
        UserUttered("halo lagi", {"name": "greet", "confidence": 1.0}),
        ActionExecuted("utter_greet"),
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
    ]
    _replay(events, domain)


def test_a_changed_history_is_walked_again(domain: Domain) -> None:
    """Events replaced under the tracker (not appended) give Rasa's result, not a stale one."""
    tracker = IncrementalStatesTracker("s", domain.slots)
    for event in [ActionExecuted("action_listen"), UserUttered("a", {"name": "greet"})]:
        tracker.update(event)
    tracker.past_states(domain)
    tracker.applied_events()
    tracker.events.clear()
    for event in [ActionExecuted("action_listen"), UserUttered("b", {"name": "goodbye"})]:
        tracker.update(event)
    reference = DialogueStateTracker.from_events("s", list(tracker.events), domain.slots)
    assert tracker.past_states(domain) == domain.states_for_tracker_history(reference)
    assert tracker.applied_events() == reference.applied_events()
