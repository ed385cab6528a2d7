"""action_handoff_end: the bot takes the conversation back after a handoff ended.

The agent desk's worker runs it through Rasa's HTTP API (`POST /conversations/{id}/execute`)
once a handoff is resolved, cancelled or expired. `/execute` runs this one action and predicts
nothing after it, so the action leaves the tracker ready for the citizen's next message: the
conversation resumed and, after a resolved handoff, the rating form active and asking.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationResumed,
    EventType,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import ServicesMixin
from helpdesk.storage.enums import CsatKind, HandoffStatus

logger = logging.getLogger(__name__)

#: The question of the agent rating (also asked again by the csat form, see
#: `actions.forms.validate_csat_form.ActionAskCsatRating`).
UTTER_ASK_AGENT_RATING = "utter_ask_agent_rating"
#: Rating kind of a human agent's conversation.
AGENT_KIND = CsatKind.AGENT.value


class ActionHandoffEnd(ServicesMixin, Action):
    """Resume the conversation and tell the citizen how the handoff ended.

    Resolved: thanks, then the 1-5 agent rating (csat form, kind "agent"). Cancelled: the
    citizen left the queue; a pointer to the menu. Expired: nobody took it in time; the ticket
    it became. A handoff still open (or none, or one already resumed) changes nothing. A
    database error propagates: `/execute` then fails and the worker tries again later.
    """

    def name(self) -> str:
        return "action_handoff_end"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        handoff = self.services.handoffs.latest_for(tracker.sender_id)
        if handoff is None or handoff.is_open or handoff.bot_resumed_at is not None:
            logger.info(
                "action_handoff_end: nothing to resume (handoff %s)",
                "none" if handoff is None else f"{handoff.id} {handoff.status}",
            )
            return []

        # The handoff is over: the route of the request no longer shapes the dialogue.
        events: list[EventType] = [
            ConversationResumed(),
            SlotSet(slots.HANDOFF_ROUTE, None),
            SlotSet(slots.HANDOFF_WAITING, None),
        ]
        if handoff.status == HandoffStatus.RESOLVED:
            dispatcher.utter_message(response="utter_handoff_resolved")
            dispatcher.utter_message(response=UTTER_ASK_AGENT_RATING)
            events.extend(
                [
                    SlotSet(slots.AWAITING_FEEDBACK, False),
                    SlotSet(slots.CSAT_RATING, None),
                    SlotSet(slots.CSAT_KIND, AGENT_KIND),
                    SlotSet(slots.HANDOFF_ID, str(handoff.id)),
                    ActiveLoop(slots.CSAT_FORM),
                    SlotSet(slots.REQUESTED_SLOT, slots.CSAT_RATING),
                ]
            )
        elif handoff.status == HandoffStatus.CANCELLED:
            dispatcher.utter_message(response="utter_handoff_cancelled")
        elif handoff.ticket_id:
            dispatcher.utter_message(
                response="utter_handoff_expired", ticket_number=handoff.ticket_id
            )
        else:
            dispatcher.utter_message(response="utter_handoff_expired_no_ticket")
        # As after any bot turn: the next user message follows an action_listen, so rules
        # ("batal" in the rating, ...) and the form's validation apply to it.
        events.append(ActionExecuted("action_listen"))
        return events
