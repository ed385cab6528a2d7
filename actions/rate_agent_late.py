"""action_rate_agent_late: a tap on the agent-rating template after the session has ended.

The template's buttons send `/rate_agent{"number":"N"}` (helpdesk/whatsapp_templates.yml);
`helpdesk.handoff.late_rating.rate_last_handoff` stores it for the citizen's latest resolved
handoff. A typed "nilai petugas 4" reaches here too (NLU), and is read the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin
from actions.forms.validate_csat_form import RATING_LABELS, parse_rating

logger = logging.getLogger(__name__)


class ActionRateAgentLate(ServicesMixin, Action):
    """Store a late agent rating and thank; say so when there is nothing to rate."""

    def name(self) -> str:
        return "action_rate_agent_late"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from helpdesk.handoff.late_rating import LateRating, rate_last_handoff

        value = next(tracker.get_latest_entity_values("number"), None)
        rating = parse_rating(value if value is not None else tracker.latest_message.get("text"))
        if rating is None:
            dispatcher.utter_message(response="utter_ask_agent_rating")
            return []
        services = self.services
        try:
            outcome = rate_last_handoff(
                services.handoffs,
                services.csat,
                tracker.sender_id,
                rating,
                datetime.now(timezone.utc),
            )
        except Exception:
            logger.exception("a late agent rating was not stored")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            return []
        if outcome is LateRating.NO_HANDOFF:
            dispatcher.utter_message(response="utter_agent_rating_nothing_to_rate")
            return []
        dispatcher.utter_message(
            response="utter_csat_thanks_agent", rating_label=f"{rating} - {RATING_LABELS[rating]}"
        )
        return []
