"""action_broadcast_consent: BERHENTI / STOP and MULAI / START for WhatsApp broadcasts.

On WhatsApp the sender id is the number (`helpdesk.conversation.identifiers.requester_phone`):
the opt-out or opt-in is recorded for it (`BroadcastService`) and confirmed. A MULAI from a
number that never opted out is most likely a citizen starting a chat: the menu answers it.
On the other channels nobody's number is known: the citizen is told to write from WhatsApp.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin

logger = logging.getLogger(__name__)

#: The channel broadcasts go out on.
BROADCAST_CHANNEL = "whatsapp"


class ActionBroadcastConsent(ServicesMixin, Action):
    """Record and confirm a citizen's broadcast opt-out or opt-in."""

    def name(self) -> str:
        return "action_broadcast_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from helpdesk.broadcasts.consent import OPT_OUT_INTENT
        from helpdesk.conversation.identifiers import requester_phone

        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        channel = tracker.get_latest_input_channel()
        phone = requester_phone(channel, tracker.sender_id, (BROADCAST_CHANNEL,))
        if phone is None:
            dispatcher.utter_message(response="utter_broadcast_whatsapp_only")
            return []
        try:
            if intent == OPT_OUT_INTENT:
                self.services.broadcasts.opt_out(phone, BROADCAST_CHANNEL)
                dispatcher.utter_message(response="utter_broadcast_opted_out")
                return []
            if not self.services.broadcasts.opt_in(phone, BROADCAST_CHANNEL):
                return [FollowupAction("action_show_menu")]
        except Exception:
            logger.exception("broadcast consent not recorded")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return []
        dispatcher.utter_message(response="utter_broadcast_opted_in")
        return []
