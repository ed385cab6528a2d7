"""action_show_menu: the numbered main menu (also leaves any active form)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin, leave_active_loop

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.conversation.menu import Menu

logger = logging.getLogger(__name__)


def utter_menu(dispatcher: CollectingDispatcher, menu: "Menu") -> None:
    """Send the numbered menu text with one button per item."""
    dispatcher.utter_message(
        response="utter_menu", menu_items=menu.render(), buttons=menu.buttons()
    )


class ActionShowMenu(ServicesMixin, Action):
    """Show the main menu; "menu"/"0" in the middle of a form leaves the form first."""

    def name(self) -> str:
        return "action_show_menu"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = leave_active_loop(tracker)
        events.append(SlotSet(slots.AWAITING_FEEDBACK, False))
        try:
            menu = self.services.menu
        except Exception:
            logger.exception("the menu could not be loaded")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return events
        utter_menu(dispatcher, menu)
        return events
