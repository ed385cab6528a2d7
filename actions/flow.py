"""The guided flows of the organisation's profile, walked by one form (`flow_form`).

- `action_ask_flow_reply`: shows the node the conversation is at (its text, its choices as
  buttons and a numbered list);
- `validate_flow_form`: hands the citizen's reply to the walker
  (`helpdesk.conversation.flows.advance`; "kembali" goes one step back) and asks again, moves
  on, or ends the form with "end:<kind>:<target>" in `flow_reply`;
- `action_flow_end`: does what the flow ends with: answers an entry (with the rating that
  follows any answer), offers a category's questions, opens the ticket form, hands over to an
  officer, or shows the menu.

The flows are data (`profiles/<name>/flows.yml`): changing one needs no retraining, and a
changed file is used from the next message on.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.answer_faq import ActionAnswerFaq, faq_payload
from actions.base import (
    ServicesMixin,
    channel_of,
    latest_intent,
    latest_text,
    leave_active_loop,
)
from actions.handoff import HandsOver
from actions.show_menu import utter_menu
from helpdesk.conversation.flows import (
    End,
    Flow,
    FlowState,
    Outcome,
    advance,
    back,
    collected_name,
    fold,
    show,
    start,
)
from helpdesk.conversation.question_shape import reads_as_question

logger = logging.getLogger(__name__)

#: Replies that go one step back in a flow (folded: lower case, letters and digits).
BACK_WORDS = frozenset(
    {"kembali", "balik", "back", "sebelumnya", "mundur", "langkah sebelumnya", "kembali dulu"}
)
#: Intent of "menu" and "0": inside a flow, leave it for the menu.
MENU_INTENT = "menu"
#: Intent of a flow's buttons (`/flow_choice{"option":"2"}`).
CHOICE_INTENT = "flow_choice"
#: Inputs a question cannot be the answer to: a question there leaves the flow.
CHECKED_INPUTS = frozenset({"name", "phone", "email", "nik", "number"})
#: How a flow ends when the citizen asked a question instead of answering (not a file's end).
QUESTION_END = "question"
#: At most this many of a category's questions are offered at a flow's end.
CATEGORY_QUESTIONS = 10


def choice_payload(number: int) -> str:
    """The payload of a flow's button: the choice's number, whatever its title's words."""
    return (
        "/" + CHOICE_INTENT + json.dumps({slots.ENTITY_OPTION: str(number)}, separators=(",", ":"))
    )


def end_reply(end: End) -> str:
    """The `flow_reply` that ends the form with `end` ("end:<kind>" or "end:<kind>:<target>")."""
    return f"{slots.FLOW_ENDED}{end.kind}" + (f":{end.target}" if end.target else "")


def flow_state(tracker: Tracker) -> FlowState | None:
    return FlowState.from_json(tracker.get_slot(slots.FLOW_STATE))


def start_events(dispatcher: CollectingDispatcher, flow: Flow) -> list[EventType]:
    """Start `flow`: the messages before its first question are sent, the form asks from
    there (or, for a flow that only says something, its end follows)."""
    outcome = start(flow)
    texts = outcome.prompt.texts if outcome.prompt is not None else ()
    events: list[EventType] = [SlotSet(slots.FLOW_STATE, outcome.state.to_json())]
    if outcome.end is not None:
        for text in texts:
            dispatcher.utter_message(text=text)
        reply = end_reply(outcome.end)
        return [*events, SlotSet(slots.FLOW_REPLY, reply), FollowupAction("action_flow_end")]
    for text in texts[:-1]:
        dispatcher.utter_message(text=text)
    return [*events, SlotSet(slots.FLOW_REPLY, None), FollowupAction(slots.FLOW_FORM)]


class FlowActionMixin(ServicesMixin):
    """The flow a conversation is in (None when it is in none, or the flow is gone)."""

    def current(self, tracker: Tracker) -> tuple[Flow, FlowState] | None:
        state = flow_state(tracker)
        if state is None:
            return None
        try:
            flow = self.services.flows.get(state.flow)
        except Exception:
            logger.exception("the flows could not be loaded")
            return None
        return (flow, state) if flow is not None else None


def utter_prompt(
    dispatcher: CollectingDispatcher, texts: tuple[str, ...], choices: tuple[str, ...]
) -> None:
    """The node's texts; the last one with the choices as buttons and a numbered list (a
    channel without buttons shows the list; "2" or the title chooses too)."""
    for text in texts[:-1]:
        dispatcher.utter_message(text=text)
    if not texts:
        return
    if not choices:
        dispatcher.utter_message(text=texts[-1])
        return
    listed = "\n".join(f"{n}. {title}" for n, title in enumerate(choices, 1))
    dispatcher.utter_message(
        text=f"{texts[-1]}\n{listed}",
        buttons=[
            {"title": title, "payload": choice_payload(n)} for n, title in enumerate(choices, 1)
        ],
    )


class ActionAskFlowReply(FlowActionMixin, Action):
    """Show the node the conversation is at."""

    def name(self) -> str:
        return "action_ask_flow_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        found = self.current(tracker)
        if found is None:
            dispatcher.utter_message(response="utter_flow_unavailable")
            return [*leave_active_loop(tracker), SlotSet(slots.FLOW_STATE, None)]
        flow, state = found
        prompt = show(flow, state)
        utter_prompt(dispatcher, prompt.texts, prompt.choices)
        return []


class ValidateFlowForm(FlowActionMixin, FormValidationAction):
    """Walk the flow with the citizen's reply."""

    def name(self) -> str:
        return "validate_flow_form"

    def validate_flow_reply(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if tracker.get_slot(slots.REQUESTED_SLOT) != slots.FLOW_REPLY:
            # The message that started the flow ("1", "konsultasi rumah", a menu button) is
            # no answer to a node not yet shown: the form shows the first one now.
            return {slots.FLOW_REPLY: None}
        found = self.current(tracker)
        if found is None:
            dispatcher.utter_message(response="utter_flow_unavailable")
            return {slots.FLOW_REPLY: end_reply(End("end")), slots.FLOW_STATE: None}
        flow, state = found
        intent = latest_intent(tracker)
        text = latest_text(tracker)
        if fold(text) in BACK_WORDS:
            outcome = back(flow, state)
        elif intent == MENU_INTENT:
            return {slots.FLOW_REPLY: end_reply(End("menu")), slots.FLOW_STATE: None}
        elif intent == CHOICE_INTENT:
            option = next(tracker.get_latest_entity_values(slots.ENTITY_OPTION), None)
            outcome = advance(flow, state, str(option or ""))
        else:
            outcome = advance(flow, state, text or str(slot_value or ""))
            node = flow.nodes.get(state.node)
            checked = node is not None and node.input in CHECKED_INPUTS
            if outcome.error and checked and reads_as_question(text):
                # Asked for a name or a number, the citizen asks something instead: the flow
                # is left and the question answered.
                ended = end_reply(End(QUESTION_END))
                return {slots.FLOW_REPLY: ended, slots.FLOW_STATE: state.to_json()}
        return self._after(dispatcher, outcome)

    @staticmethod
    def _after(dispatcher: CollectingDispatcher, outcome: Outcome) -> dict[str, Any]:
        state = outcome.state.to_json()
        if outcome.error:
            dispatcher.utter_message(text=outcome.error)
            return {slots.FLOW_REPLY: None, slots.FLOW_STATE: state}
        if outcome.end is not None:
            if outcome.prompt is not None:
                utter_prompt(dispatcher, outcome.prompt.texts, ())
            return {slots.FLOW_REPLY: end_reply(outcome.end), slots.FLOW_STATE: state}
        if outcome.prompt is not None:
            # Messages passed on the way; the form's question shows the node itself.
            for text in outcome.prompt.texts[:-1]:
                dispatcher.utter_message(text=text)
        return {slots.FLOW_REPLY: None, slots.FLOW_STATE: state}


def ended_with(tracker: Tracker) -> End | None:
    """How the flow the form walked ended ("end:<kind>:<target>" in `flow_reply`)."""
    reply = tracker.get_slot(slots.FLOW_REPLY)
    if not isinstance(reply, str) or not reply.startswith(slots.FLOW_ENDED):
        return None
    kind, _, target = reply[len(slots.FLOW_ENDED) :].partition(":")
    return End(kind, target or None)


#: A ticket carries what flows collected in this long before it.
FLOW_NOTES_WINDOW = timedelta(hours=2)


def flow_notes(services: Any, sender_id: str, now: datetime | None = None) -> str:
    """What the sender's recent flows collected, as lines for a ticket's chronology ("" when
    nothing, or when it cannot be read: the ticket is made anyway)."""
    now = now or datetime.now(timezone.utc)
    try:
        found = services.flow_submissions.recent(sender_id, since=now - FLOW_NOTES_WINDOW)
    except Exception:
        logger.exception("the flow submissions of %s could not be read", sender_id)
        return ""
    parts = [f"Data dari alur \u201c{s.flow_title}\u201d:\n{s.summary()}" for s in found if s.data]
    return "\n\n".join(parts)


class ActionFlowEnd(FlowActionMixin, HandsOver, ActionAnswerFaq):
    """Store what the flow collected, then do what it ended with."""

    def name(self) -> str:
        return "action_flow_end"

    def _store(self, tracker: Tracker, end: End) -> None:
        found = self.current(tracker)
        if found is None or not found[1].data:
            return
        flow, state = found
        try:
            self.services.flow_submissions.add(
                tracker.sender_id,
                channel=channel_of(tracker),
                flow_id=flow.id,
                flow_title=flow.title,
                data=state.data,
                outcome=f"{end.kind}:{end.target}" if end.target else end.kind,
            )
        except Exception:
            logger.exception("what the flow of %s collected could not be stored", tracker.sender_id)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        end = ended_with(tracker)
        cleared: list[EventType] = [
            SlotSet(slots.FLOW_REPLY, None),
            SlotSet(slots.FLOW_STATE, None),
        ]
        if end is not None:
            self._store(tracker, end)
            found = self.current(tracker)
            name = collected_name(found[0], found[1].data) if found else None
            if name:
                cleared.append(SlotSet(slots.CITIZEN_NAME, name))
        if end is None or end.kind == "end":
            return cleared
        if end.kind == QUESTION_END:
            return [*cleared, *await ActionAnswerFaq.run(self, dispatcher, tracker, domain)]
        try:
            if end.kind == "faq":
                answer = self.services.retriever.answer_entry(str(end.target))
                if answer is None:
                    logger.warning("a flow ends with the FAQ %r, which does not exist", end.target)
                    dispatcher.utter_message(response="utter_flow_unavailable")
                    return cleared
                return [*cleared, *self.reply(dispatcher, tracker, answer)]
            if end.kind == "faq_category":
                return [*cleared, *self._category(dispatcher, str(end.target))]
            if end.kind == "menu":
                utter_menu(dispatcher, self.services.menu)
                return cleared
        except Exception:
            logger.exception("the end of a flow (%s) failed", end.kind)
            dispatcher.utter_message(response="utter_flow_unavailable")
            return cleared
        if end.kind == "ticket":
            return [*cleared, FollowupAction(slots.TICKET_FORM)]
        if end.kind == "handoff":
            return [*cleared, *self.hand_over(dispatcher, tracker)]
        logger.warning("a flow ends with an unknown kind %r", end.kind)
        return cleared

    def _category(self, dispatcher: CollectingDispatcher, category: str) -> list[EventType]:
        entries = [e for e in self.services.retriever.index.entries if e.category == category][
            :CATEGORY_QUESTIONS
        ]
        if not entries:
            dispatcher.utter_message(response="utter_flow_unavailable")
            return []
        dispatcher.utter_message(
            response="utter_flow_category",
            category=category,
            buttons=[{"title": e.question, "payload": faq_payload(e.id)} for e in entries],
        )
        return []
