"""action_leave_queue: "batal" while waiting in the agents' queue, answered in the same turn.

A queued conversation is paused, and Rasa answers nothing in a paused conversation; the one
exception is the cancel intent while no agent has taken it yet (`handoff_waiting`), let
through by `components.queue_leave`. The rule "batal while waiting for an officer" then runs
this action, which reads the handoff's real state in the helpdesk database (an agent may have
taken it a moment ago) and:

- waiting: leaves the queue (`HandoffService.leave_queue` cancels it and marks it resumed, so
  the desk worker does not say it again), resumes the conversation and says so;
- held by an agent: says nothing and keeps the conversation paused, so "batal" is a message
  for the agent like any other;
- ended meanwhile (resolved, expired): says nothing and keeps it paused; the desk worker is
  about to resume it with `action_handoff_end`, which tells how it ended;
- nothing to leave: the ordinary "batal" (`action_cancel`), resuming a conversation left
  paused without a handoff.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ConversationPaused,
    ConversationResumed,
    EventType,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin
from actions.cancel import ActionCancel

logger = logging.getLogger(__name__)

#: "Anda telah keluar dari antrean petugas ..." (also said by action_handoff_end).
UTTER_LEFT_QUEUE = "utter_handoff_cancelled"


class ActionLeaveQueue(ServicesMixin, Action):
    """Take a waiting citizen out of the agents' queue at once; leave a held one to the agent."""

    def name(self) -> str:
        return "action_leave_queue"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from helpdesk.handoff.service import LeaveOutcome

        # Cleared (not False): the dialogue state is then the one before the request.
        not_waiting = SlotSet(slots.HANDOFF_WAITING, None)
        try:
            outcome = self.services.handoff.leave_queue(tracker.sender_id)
        except Exception:
            logger.exception("could not take %s out of the queue", tracker.sender_id)
            # Still queued as far as anyone knows: stay paused (the desk worker also reads
            # "batal" and takes the citizen out once the database answers again).
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return [not_waiting, *self._stay_paused()]

        if outcome is LeaveOutcome.LEFT:
            dispatcher.utter_message(response=UTTER_LEFT_QUEUE)
            return [ConversationResumed(), not_waiting, SlotSet(slots.HANDOFF_ROUTE, None)]
        if outcome in (LeaveOutcome.WITH_AGENT, LeaveOutcome.ENDING):
            logger.info("batal of %s stays in the conversation (%s)", tracker.sender_id, outcome)
            return [not_waiting, *self._stay_paused()]
        # Nothing to leave: the slot outlived its handoff. An ordinary "batal".
        events: list[EventType] = [not_waiting, SlotSet(slots.HANDOFF_ROUTE, None)]
        if tracker.is_paused():
            dispatcher.utter_message(response=UTTER_LEFT_QUEUE)
            return [ConversationResumed(), *events]
        return [*events, *await ActionCancel().run(dispatcher, tracker, domain)]

    @staticmethod
    def _stay_paused() -> list[EventType]:
        # The bot's turn ends here, as after action_handoff: nothing is predicted after it.
        return [ConversationPaused(), ActionExecuted("action_listen")]
