"""action_handoff: a request for a human agent, routed by office hours.

In office hours the conversation joins the agents' queue (`HandoffService.request`) and Rasa
pauses it: the citizen's next messages are logged for the agent and the bot stays silent
until the agent desk resumes it with `action_handoff_end`. While no agent has taken it yet
(`handoff_waiting`), "batal" is the one message the bot still answers (`action_leave_queue`).
Outside office hours the citizen gets the hours and the conversation so far becomes a ticket.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin, channel_of, leave_active_loop
from helpdesk.conversation.greeting import POLITE_FORM, display_name
from helpdesk.handoff.transcript import turns_from_events

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.handoff.service import HandoffService, QueuePlace

logger = logging.getLogger(__name__)

#: Offers a ticket when the request could not be handled.
UTTER_OFFER_TICKET = "utter_handoff_offer_ticket"
#: Longest question stored with a handoff (the full conversation stays in the tracker).
MAX_QUESTION_LENGTH = 1000
#: Intents of messages that are not the citizen's question (menu choices, yes/no, values...).
_NOT_A_QUESTION = frozenset(
    {
        "human_handoff",
        "menu",
        "menu_select",
        "greet",
        "goodbye",
        "thank",
        "affirm",
        "deny",
        "cancel",
        "inform",
    }
)


def citizen_name(tracker: Tracker) -> str | None:
    """The citizen's name from the session metadata, else the one they gave in a flow, or
    None."""
    metadata = tracker.get_slot(slots.SESSION_STARTED_METADATA)
    name = display_name(metadata if isinstance(metadata, dict) else None)
    if name == POLITE_FORM:
        name = display_name({"name": tracker.get_slot(slots.CITIZEN_NAME)})
    return None if name == POLITE_FORM else name


def question_of(tracker: Tracker) -> str | None:
    """What the citizen wanted help with: the last FAQ question asked, else the latest message
    of this session before the request for a human that reads like a question."""
    last = tracker.get_slot(slots.LAST_QUESTION)
    if isinstance(last, str) and last.strip():
        return last.strip()[:MAX_QUESTION_LENGTH]
    request_seen = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "session_started":
            break
        if kind != "user":
            continue
        if not request_seen:  # the latest message is the request itself
            request_seen = True
            continue
        text = " ".join((event.get("text") or "").split())
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if text and not text.startswith("/") and intent not in _NOT_A_QUESTION:
            return text[:MAX_QUESTION_LENGTH]
    return None


def request_timestamp(tracker: Tracker) -> float | None:
    """Tracker time (epoch seconds) of the latest user message: the request for a human."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and event.get("timestamp") is not None:
            return float(event["timestamp"])
    return None


def request_key(tracker: Tracker) -> str | None:
    """The channel's id of the message that asked for an agent (None without one)."""
    message_id = (tracker.latest_message or {}).get("message_id")
    return f"{tracker.sender_id}:{message_id}"[:255] if message_id else None


class HandsOver(ServicesMixin):
    """The handoff step every action that hands a conversation over shares (`hand_over`).

    Args:
        services: Injected services (tests); the process-wide ones when None.
        clock: Returns the current aware time (tests); now in UTC when None.
    """

    def __init__(
        self, *args: Any, clock: Callable[[], datetime] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock or (lambda: self.services.settings.now())

    def hand_over(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """In office hours: queue the conversation for an agent and pause it. Outside them:
        the hours, and the conversation so far as a ticket. The events to return."""
        events = leave_active_loop(tracker)
        now = self._clock()
        try:
            handoff = self.services.handoff
            if handoff.is_open(now):
                place = handoff.request(
                    tracker.sender_id,
                    channel=channel_of(tracker),
                    name=citizen_name(tracker),
                    question=question_of(tracker),
                    category=self.faq_category(tracker),
                    since_ts=request_timestamp(tracker),
                    request_key=request_key(tracker),
                )
                if not place.handoff.is_open:
                    # This very message was handed over before a crash, and an agent has
                    # served it since (Rasa runs the turn again): nothing to queue or pause.
                    return [*events, SlotSet(slots.AWAITING_FEEDBACK, False)]
                self._tell_place(dispatcher, handoff, place)
                return [
                    *events,
                    SlotSet(slots.AWAITING_FEEDBACK, False),
                    SlotSet(slots.HANDOFF_ROUTE, "queue"),
                    # Waiting (not yet with an agent): "batal" leaves the queue at once.
                    SlotSet(slots.HANDOFF_WAITING, True if place.position > 0 else None),
                    ConversationPaused(),
                    # As after any bot turn (Rasa predicts nothing more once paused): the
                    # citizen's "batal" then follows an action_listen, so the rule that
                    # leaves the queue applies to it.
                    ActionExecuted("action_listen"),
                ]
            reply = handoff.record_offline(
                now,
                turns_from_events(list(tracker.events)),
                sender_id=tracker.sender_id,
                channel=channel_of(tracker),
                category=self.faq_category(tracker),
            )
        except Exception:
            logger.exception("handoff request could not be handled")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
            dispatcher.utter_message(response=UTTER_OFFER_TICKET)
            return [*events, SlotSet(slots.HANDOFF_ROUTE, None)]
        dispatcher.utter_message(
            response="utter_handoff_offline",
            hours=reply.hours,
            next_opening=reply.next_opening,
            ticket_number=reply.ticket.id,
        )
        return [*events, SlotSet(slots.HANDOFF_ROUTE, "offline")]

    @staticmethod
    def _tell_place(
        dispatcher: CollectingDispatcher, handoff: "HandoffService", place: "QueuePlace"
    ) -> None:
        """Where the conversation stands: queued now, still queued, or already with an agent."""
        if place.position == 0:
            dispatcher.utter_message(response="utter_handoff_in_progress")
        elif not place.created:
            dispatcher.utter_message(
                response="utter_handoff_still_queued",
                position=place.position,
                wait_minutes=place.wait_minutes,
            )
        elif place.agents_online == 0:
            dispatcher.utter_message(
                response="utter_handoff_queued_busy",
                position=place.position,
                timeout_minutes=math.ceil(handoff.timeout.total_seconds() / 60),
            )
        else:
            dispatcher.utter_message(
                response="utter_handoff_queued",
                position=place.position,
                wait_minutes=place.wait_minutes,
            )


class ActionHandoff(HandsOver, Action):
    """In office hours the conversation is queued for an agent and paused; outside them the
    citizen gets the hours and the conversation so far becomes a ticket."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return self.hand_over(dispatcher, tracker)
