"""components.queue_leave: Rasa handles a paused conversation's "batal" while it waits in the queue.

Real `DialogueStateTracker`s with the events Rasa logs for a queued conversation, and Rasa's
own `MessageProcessor._run_prediction_loop` with the policy and the action server replaced.
"""

from __future__ import annotations

from typing import Any

import pytest
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ConversationPaused,
    ConversationResumed,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from components import extensions, queue_leave

extensions.apply()  # as the Rasa server does when it loads the model

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [human_handoff, cancel, inform, restart]
actions: [action_handoff, action_leave_queue]
slots:
  handoff_waiting:
    type: bool
    influence_conversation: true
    mappings:
      - type: custom
"""
)


def user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.99})


def queued(waiting: bool | None = True) -> list[Event]:
    """What Rasa logged up to the queue: action_handoff paused the conversation."""
    return [
        ActionExecuted("action_listen"),
        user("bicara dengan petugas", "human_handoff"),
        ActionExecuted("action_handoff"),
        SlotSet("handoff_waiting", waiting),
        ConversationPaused(),
        ActionExecuted("action_listen"),
    ]


def tracker(*events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("6281234567890", list(events), domain=DOMAIN)


def handled(t: DialogueStateTracker) -> bool:
    return MessageProcessor._should_handle_message(t)


def test_batal_while_waiting_is_handled():
    t = tracker(*queued(), user("printer saya rusak", "inform"), user("batal", "cancel"))

    assert t.is_paused()
    assert queue_leave.leaves_the_queue(t)
    assert handled(t)


def test_other_messages_while_waiting_stay_for_the_agent():
    assert not handled(tracker(*queued(), user("printer saya rusak", "inform")))
    # The leave texts count only as the cancel intent: the rule that answers is on the intent.
    assert not handled(tracker(*queued(), user("batal", "inform")))


@pytest.mark.parametrize("waiting", [None, False], ids=["cleared", "false"])
def test_batal_while_an_agent_holds_the_conversation_stays_for_the_agent(waiting):
    assert not handled(tracker(*queued(waiting), user("batal", "cancel")))


def test_once_an_action_ran_for_the_batal_nothing_more_is_handled():
    # action_leave_queue found the conversation taken by an agent: paused again, silent.
    t = tracker(
        *queued(),
        user("batal", "cancel"),
        ActionExecuted("action_leave_queue"),
        SlotSet("handoff_waiting", True),  # even if its events were lost
        ConversationPaused(),
    )
    assert not handled(t)


def test_rasa_s_own_rules_are_kept():
    assert handled(tracker(user("batal", "cancel")))  # not paused
    assert handled(tracker(*queued(), user("/restart", "restart")))  # restart while paused
    assert not queue_leave.leaves_the_queue(tracker(user("batal", "cancel")))


def test_apply_is_idempotent_and_wraps_rasa_s_check_once():
    assert queue_leave.apply() is True
    assert queue_leave.apply() is True
    current = MessageProcessor._should_handle_message
    original = current._helpdesk_original
    assert not hasattr(original, "_helpdesk_original")
    assert original.__qualname__ == "MessageProcessor._should_handle_message"


def test_another_rasa_version_is_left_alone(monkeypatch):
    import rasa

    original = MessageProcessor._should_handle_message._helpdesk_original
    monkeypatch.setattr(MessageProcessor, "_should_handle_message", staticmethod(original))
    monkeypatch.setattr(rasa, "__version__", "3.7.0")

    assert queue_leave.apply() is False
    assert MessageProcessor._should_handle_message is original


# --- Rasa's prediction loop with the extension ------------------------------------------------


class Loop:
    """Runs Rasa's `_run_prediction_loop` with a scripted policy and action server."""

    def __init__(self, results: dict[str, list[Event] | None]) -> None:
        self.results = results  # action name -> its events (None: the action server failed)
        self.ran: list[str] = []

    async def run(self, t: DialogueStateTracker, predictions: list[str]) -> None:
        processor: Any = MessageProcessor.__new__(MessageProcessor)
        script = iter(predictions)

        class Prediction:
            is_end_to_end_prediction = False

        class Action:
            def __init__(self, name: str) -> None:
                self._name = name

            def name(self) -> str:
                return self._name

        def predict(_tracker: DialogueStateTracker) -> tuple[Action, Prediction]:
            return Action(next(script)), Prediction()

        async def run_action(action: Action, tracker_: DialogueStateTracker, *args: Any) -> bool:
            self.ran.append(action.name())
            tracker_.update(ActionExecuted(action.name()))
            for event in self.results.get(action.name()) or []:
                tracker_.update(event, DOMAIN)
            return action.name() != "action_listen"

        processor.nlg = None
        processor.predict_next_with_tracker_if_should = predict
        processor._run_action = run_action
        await MessageProcessor._run_prediction_loop(processor, None, t)


async def test_leaving_the_queue_resumes_and_the_bot_listens_after():
    loop = Loop({"action_leave_queue": [ConversationResumed(), SlotSet("handoff_waiting", None)]})
    t = tracker(*queued(), user("batal", "cancel"))

    await loop.run(t, ["action_leave_queue", "action_listen"])

    assert loop.ran == ["action_leave_queue", "action_listen"]
    assert not t.is_paused()


@pytest.mark.parametrize(
    "events",
    [
        [SlotSet("handoff_waiting", None), ConversationPaused(), ActionExecuted("action_listen")],
        None,  # the action server failed: Rasa logs the action without its events
    ],
    ids=["with-an-agent", "action-failed"],
)
async def test_one_action_runs_for_the_batal_then_the_conversation_stays_paused(events):
    loop = Loop({"action_leave_queue": events})
    t = tracker(*queued(), user("batal", "cancel"))

    await loop.run(t, ["action_leave_queue"] * 10)

    assert loop.ran == ["action_leave_queue"]
    assert t.is_paused()
