"""action_ask_sakti_satker_code: ask the work unit, with a button per registered one."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import slots


class ActionAskSaktiSatkerCode(Action):
    """A NIK registered in several work units picks one from buttons; else types the code."""

    def name(self) -> str:
        return "action_ask_sakti_satker_code"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        options = tracker.get_slot(slots.SAKTI_SATKER_OPTIONS) or []
        if len(options) > 1:
            buttons = [
                {"title": f"{o['code']} {o.get('name') or ''}".strip(), "payload": o["code"]}
                for o in options
            ]
            dispatcher.utter_message(response="utter_ask_sakti_satker_code_choice", buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_ask_sakti_satker_code")
        return []
