"""action_session_start: greet by time of day and name, in one line.

The session's first message is answered right after: a question gets its answer, a greeting
gets the introduction and the menu (action_greet), "menu" the menu. A new session never makes
the citizen scroll past the introduction and the whole menu to find their answer.

While a human agent holds the conversation (an open handoff) the new session starts silently
and stays paused, so the citizen's messages keep going to the agent.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ConversationPaused,
    EventType,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import ServicesMixin, channel_of
from helpdesk.conversation.greeting import display_name, greeting_for
from helpdesk.storage.enums import HandoffStatus

logger = logging.getLogger(__name__)


class ActionSessionStart(ServicesMixin, Action):
    """Start a fresh session (no slot carried over) with a one-line greeting.

    Args:
        services: Injected services (tests); the process-wide ones when None.
        clock: Returns the current aware time (tests); `datetime.now` in the helpdesk's
            time zone when None.
    """

    def __init__(
        self,
        services: Any = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(services=services)
        self._clock = clock

    def name(self) -> str:
        return "action_session_start"

    def _now(self) -> datetime:
        tz = self.services.settings.tz
        if self._clock is not None:
            return self._clock().astimezone(tz)
        return self.services.settings.now().astimezone(tz)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        metadata = tracker.get_slot(slots.SESSION_STARTED_METADATA)
        if not isinstance(metadata, dict):
            metadata = {}

        events: list[EventType] = [SessionStarted()]
        if metadata:
            # This session's own metadata (name, channel): not a carried-over slot.
            events.append(SlotSet(slots.SESSION_STARTED_METADATA, metadata))

        handoff = self._open_handoff(tracker)
        if handoff is not None:
            # Rasa started a new session (e.g. after an hour of silence) while the handoff is
            # open: SessionStarted un-pauses the tracker, so pause it again; no greeting. A
            # citizen still waiting can leave the queue with "batal" (action_leave_queue).
            if handoff.status == HandoffStatus.WAITING:
                events.append(SlotSet(slots.HANDOFF_WAITING, True))
            return [*events, ConversationPaused(), ActionExecuted("action_listen")]

        dispatcher.utter_message(
            response="utter_session_greeting",
            greeting=greeting_for(
                self._now(),
                by_time_of_day=self.services.settings.profile.time_of_day_greeting,
            ),
            name=display_name(metadata),
        )
        try:
            self.services.conversations.record_session_start(
                tracker.sender_id, channel=channel_of(tracker)
            )
        except Exception:
            logger.exception("could not record the session start of %s", tracker.sender_id)

        events.append(ActionExecuted("action_listen"))
        return events

    def _open_handoff(self, tracker: Tracker) -> Any:
        """The conversation's open handoff (waiting or held), or None (also when the database
        fails: then the session starts as usual)."""
        try:
            return self.services.handoffs.open_for(tracker.sender_id)
        except Exception:
            logger.exception("could not read the open handoff of %s", tracker.sender_id)
            return None
