"""action_menu_select: start the flow of the menu item chosen by number or by name."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin, latest_text, leave_active_loop
from actions.show_menu import utter_menu

logger = logging.getLogger(__name__)


class ActionMenuSelect(ServicesMixin, Action):
    """Run the target of the chosen menu item, or re-show the menu politely."""

    def name(self) -> str:
        return "action_menu_select"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        try:
            menu = self.services.menu
        except Exception:
            logger.exception("the menu could not be loaded")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return [SlotSet(slots.MENU_TARGET, None)]

        number = next(tracker.get_latest_entity_values(slots.ENTITY_NUMBER), None)
        text = latest_text(tracker)
        if number is not None:
            item = menu.get(number)
            choice = str(number)
        else:
            item = menu.match(text)
            choice = text
        # The menu is shown or a new flow starts: either way the current form is left.
        events = leave_active_loop(tracker)
        if item is None:
            dispatcher.utter_message(response="utter_menu_invalid_choice", choice=choice)
            utter_menu(dispatcher, menu)
            return [*events, SlotSet(slots.MENU_TARGET, None)]

        events.extend(
            [SlotSet(slots.AWAITING_FEEDBACK, False), SlotSet(slots.MENU_TARGET, item.action)]
        )
        if item.flow is not None:
            return [*events, *self._start_flow(dispatcher, item.flow)]
        return [*events, FollowupAction(item.action)]

    def _start_flow(self, dispatcher: CollectingDispatcher, flow_id: str) -> list[EventType]:
        """The guided flow the item names, from its start (or an apology when it is gone)."""
        from actions.flow import start_events

        try:
            flow = self.services.flows.get(flow_id)
        except Exception:
            logger.exception("the flows could not be loaded")
            flow = None
        if flow is None:
            dispatcher.utter_message(response="utter_flow_unavailable")
            return [SlotSet(slots.MENU_TARGET, None)]
        return start_events(dispatcher, flow)
