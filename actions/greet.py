"""action_greet: answer a greeting; the session's first greeting gets the introduction and menu."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.base import ServicesMixin
from actions.show_menu import utter_menu

logger = logging.getLogger(__name__)


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


class ActionGreet(ServicesMixin, Action):
    """Reply to "halo", "selamat pagi", ...

    As the session's first message, action_session_start has just greeted by name: introduce
    the service and show the menu. Later in the conversation: a short "Halo, ada yang bisa
    kami bantu?".
    """

    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if not opened_the_session(tracker):
            dispatcher.utter_message(response="utter_greet")
            return []
        dispatcher.utter_message(
            response="utter_service_intro", introduction=self.services.settings.profile.introduction
        )
        try:
            utter_menu(dispatcher, self.services.menu)
        except Exception:
            logger.exception("the menu could not be loaded")
        return []
