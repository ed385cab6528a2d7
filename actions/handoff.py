"""action_handoff: a request for a human agent, routed by office hours."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin, channel_of, leave_active_loop
from helpdesk.transcript import turns_from_events

logger = logging.getLogger(__name__)


class ActionHandoff(ServicesMixin, Action):
    """In office hours the request goes on (route "ticket" until the agent desk takes over);
    outside them the citizen gets the hours and the conversation so far becomes a ticket."""

    def __init__(
        self, *args: Any, clock: Callable[[], datetime] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = leave_active_loop(tracker)
        now = self._clock()
        try:
            handoff = self.services.handoff
            if handoff.is_open(now):
                dispatcher.utter_message(response="utter_handoff_via_ticket")
                return [*events, SlotSet(slots.HANDOFF_ROUTE, "ticket")]
            reply = handoff.record_offline(
                now,
                turns_from_events(list(tracker.events)),
                sender_id=tracker.sender_id,
                channel=channel_of(tracker),
            )
        except Exception:
            logger.exception("handoff request could not be handled")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return [*events, SlotSet(slots.HANDOFF_ROUTE, None)]
        dispatcher.utter_message(
            response="utter_handoff_offline",
            hours=reply.hours,
            next_opening=reply.next_opening,
            ticket_number=reply.ticket.id,
        )
        return [*events, SlotSet(slots.HANDOFF_ROUTE, "offline")]
