"""action_greet: answer a greeting, unless the session greeting has just done so."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher


def opened_the_session(tracker: Tracker) -> bool:
    """Whether the latest user message is the first one since the session started.

    Then action_session_start has just greeted the user by name, and a second "Halo"
    would only repeat it.
    """
    user_messages = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            user_messages += 1
        elif event.get("event") == "session_started":
            return user_messages <= 1
    return False


class ActionGreet(Action):
    """Reply to "halo", "selamat pagi", ... in the middle of a conversation."""

    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if not opened_the_session(tracker):
            dispatcher.utter_message(response="utter_greet")
        return []
