"""Actions are sent the recent part of a long session, and the handoffs the whole session."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

import actions
from actions.handoff import HandsOver
from components import action_history, extensions
from components.action_history import RECENT_USER_MESSAGES, WHOLE_SESSION_ACTIONS

extensions.apply()  # as the Rasa server does when it loads the model

DOMAIN = Domain.from_dict({"slots": {}, "forms": {"ticket_form": {"required_slots": []}}})


def _session(messages: int, loop_after: int | None = None) -> DialogueStateTracker:
    tracker = DialogueStateTracker("citizen", None)  # any slot
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    for n in range(messages):
        tracker.update(UserUttered(f"pertanyaan {n}", {"name": "ask_question"}))
        if loop_after is not None and n == loop_after:
            tracker.update(ActionExecuted("ticket_form"))
            tracker.update(ActiveLoop("ticket_form"))
        tracker.update(ActionExecuted("action_answer_faq"))
        tracker.update(BotUttered(f"jawaban {n}"))
        tracker.update(SlotSet("last_question", f"pertanyaan {n}"))
        tracker.update(ActionExecuted("action_listen"))
    return tracker


def _sent(tracker: DialogueStateTracker, action: str) -> dict:
    return RemoteAction(action, None)._action_call_format(tracker, DOMAIN)


def test_a_short_session_is_sent_whole_as_rasa_sends_it():
    tracker = _session(RECENT_USER_MESSAGES - 1)
    payload = _sent(tracker, "action_answer_faq")
    assert payload["tracker"]["events"] == [e.as_dict() for e in tracker.events]
    assert payload["domain"] == DOMAIN.as_dict()  # no selective domain on this endpoint
    assert payload["tracker"]["latest_message"]["text"] == f"pertanyaan {RECENT_USER_MESSAGES - 2}"


def test_a_long_session_is_sent_from_the_recent_user_messages_on():
    tracker = _session(100)
    events = _sent(tracker, "action_answer_faq")["tracker"]["events"]
    users = [e for e in events if e["event"] == "user"]
    assert len(users) == RECENT_USER_MESSAGES
    assert events[0] == users[0] and users[-1]["text"] == "pertanyaan 99"
    assert events == [e.as_dict() for e in tracker.events][-len(events) :]
    state = _sent(tracker, "action_answer_faq")["tracker"]
    assert state["slots"]["last_question"] == "pertanyaan 99"  # the state is whole


def test_the_window_reaches_back_to_the_active_loops_activation():
    tracker = _session(100, loop_after=50)
    events = _sent(tracker, "action_answer_faq")["tracker"]["events"]
    assert events[0]["event"] == "user" and events[0]["text"] == "pertanyaan 50"
    assert any(e["event"] == "active_loop" and e["name"] == "ticket_form" for e in events)
    assert sum(e["event"] == "user" for e in events) == 50


def test_handoffs_are_sent_the_whole_session():
    tracker = _session(100)
    for action in WHOLE_SESSION_ACTIONS:
        assert _sent(tracker, action)["tracker"]["events"] == [e.as_dict() for e in tracker.events]


def test_every_action_that_looks_far_back_gets_the_whole_session():
    """A new handoff action (its transcript) or an action keyed by a form's activation
    (`form_started_at`) must be added to WHOLE_SESSION_ACTIONS."""
    far_back = set()
    for module in pkgutil.walk_packages(actions.__path__, "actions."):
        for _, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if cls.__module__ != module.name or "name" not in vars(cls):
                continue
            hands_over = issubclass(cls, HandsOver) and cls is not HandsOver
            if hands_over or "form_started_at(" in inspect.getsource(cls):
                far_back.add(cls().name())
    assert {"action_handoff", "action_create_ticket"} <= far_back
    assert far_back <= WHOLE_SESSION_ACTIONS


def test_patch_is_installed():
    assert action_history.apply() is True
    assert RemoteAction._action_call_format is action_history._action_call_format
