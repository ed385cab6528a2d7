"""action_idle_close: end a conversation nobody wrote in for HELPDESK_IDLE_SECONDS.

Run by the idle sweeper (helpdesk/jobs/sweeper.py) through the Rasa HTTP API. It says goodbye on
the conversation's channel and starts a new session, so the open form is dropped and the next
message is greeted afresh.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SessionStarted
from rasa_sdk.executor import CollectingDispatcher

from actions.base import ServicesMixin

#: Seconds of clock difference between the sweeper and the action server that are tolerated.
CLOCK_SLACK = 5.0


class ActionIdleClose(ServicesMixin, Action):
    """Close the session, unless the citizen wrote again since the sweeper looked."""

    def __init__(self, *args: Any, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def name(self) -> str:
        return "action_idle_close"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        idle_seconds = self.services.settings.idle_seconds
        last_user = next(
            (e.get("timestamp") for e in reversed(tracker.events) if e.get("event") == "user"),
            None,
        )
        if last_user is None or self._clock() - float(last_user) < idle_seconds - CLOCK_SLACK:
            return []
        website = self.services.settings.profile.website
        dispatcher.utter_message(
            response="utter_session_idle",
            minutes=max(1, round(idle_seconds / 60)),
            website=f" Informasi lengkap: {website}" if website else "",
        )
        return [SessionStarted()]
