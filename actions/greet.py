"""action_greet: answer a greeting; the session's first greeting gets the introduction and menu
(after the visitor's name, when the profile asks for it and the channel gave none)."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import ServicesMixin
from actions.handoff import citizen_name
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
        # No flow starts (the rule that walks the name flow reads this slot).
        no_flow: list[EventType] = [SlotSet(slots.MENU_TARGET, None)]
        if not opened_the_session(tracker):
            dispatcher.utter_message(response="utter_greet")
            return no_flow
        profile = self.services.settings.profile
        dispatcher.utter_message(response="utter_service_intro", introduction=profile.introduction)
        if profile.name_flow is not None and citizen_name(tracker) is None:
            return self._ask_name(dispatcher, profile.name_flow)
        try:
            utter_menu(dispatcher, self.services.menu)
        except Exception:
            logger.exception("the menu could not be loaded")
        return no_flow

    def _ask_name(self, dispatcher: CollectingDispatcher, flow_id: str) -> list[EventType]:
        """Walk the profile's name flow (it ends with the menu); the menu at once when the
        flow cannot be loaded."""
        from actions.flow import start_events

        try:
            flow = self.services.flows.get(flow_id)
        except Exception:
            logger.exception("the flows could not be loaded")
            flow = None
        if flow is None:
            logger.error("the profile's name flow %r is missing; showing the menu", flow_id)
            utter_menu(dispatcher, self.services.menu)
            return [SlotSet(slots.MENU_TARGET, None)]
        return [SlotSet(slots.MENU_TARGET, slots.FLOW_FORM), *start_events(dispatcher, flow)]
