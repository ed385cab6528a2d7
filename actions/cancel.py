"""action_cancel: "batal" leaves any form at any step."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import leave_active_loop


class ActionCancel(Action):
    """Deactivate the active form, clear its slots and confirm politely."""

    def name(self) -> str:
        return "action_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = leave_active_loop(tracker)
        events.append(SlotSet(slots.AWAITING_FEEDBACK, False))
        if tracker.active_loop_name:
            dispatcher.utter_message(response="utter_cancelled")
        else:
            dispatcher.utter_message(response="utter_nothing_to_cancel")
        return events
