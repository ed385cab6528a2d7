"""What the four self-service form validators share: reasons, the failure limit, stopping."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import (
    UTTER_BUTTON_OUTDATED,
    ServicesMixin,
    is_button_payload,
    latest_intent,
    note_cut_message,
)
from helpdesk.conversation.identifiers import DigitRule, IdentifierError, parse_choice

#: Refused answers after which a form stops and offers the menu or a ticket.
MAX_FAILURES = 3
#: Intents after which a requested choice is not read from the text (rules handle them).
NOT_AN_ANSWER = frozenset({"cancel", "menu"})


def shown(value: Any, limit: int = 40) -> str:
    """The user's text as quoted back in a reply: one line, at most `limit` characters."""
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stop_form() -> dict[str, Any]:
    """Slot updates that end the form at once; its action then only cleans up."""
    return {slots.REQUESTED_SLOT: None, slots.FORM_STOPPED: True}


class ServiceFormValidation(ServicesMixin):
    """Mixed into a `FormValidationAction`: counts refused answers, stops at `MAX_FAILURES`,
    and stops at once when the organisation's profile does not offer the form's lookup (a
    citizen of a domain registry typing "cek sp2d"): the form's action then only cleans up.

    A mixin rather than an `Action` subclass, so the action server does not register it.
    """

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        form = self.form_name()  # type: ignore[attr-defined]
        profile = self.services.settings.profile
        if form in profile.disabled_forms:
            dispatcher.utter_message(response="utter_lookup_unavailable", service=profile.name)
            return [SlotSet(name, value) for name, value in stop_form().items()]
        return await super().run(dispatcher, tracker, domain)  # type: ignore[misc]

    def reject(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        slot: str,
        response: str,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Say why `slot` was refused; the form asks again, or stops after too many refusals.

        A button of an earlier step pressed now ("/affirm", a rating) is not the citizen's
        answer: it is never quoted back and does not count as a refusal.
        """
        if is_button_payload(tracker):
            dispatcher.utter_message(response=UTTER_BUTTON_OUTDATED)
            return {slot: None}
        # The value may have been past the part of a long message NLU read.
        note_cut_message(dispatcher, tracker)
        dispatcher.utter_message(response=response, **kwargs)
        failures = int(tracker.get_slot(slots.FORM_FAILURES) or 0) + 1
        # Several slots can be refused in one run (pre-filled values): count them all.
        tracker.slots[slots.FORM_FAILURES] = failures
        result: dict[str, Any] = {slot: None, slots.FORM_FAILURES: failures}
        if failures >= MAX_FAILURES:
            dispatcher.utter_message(response="utter_form_gave_up")
            result.update(stop_form())
        return result

    def digits(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        slot: str,
        value: Any,
        rule: DigitRule,
        response: str,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Validate a number with `rule`: the digits, or the refusal with the digit count."""
        try:
            return {slot: self.parse_number(tracker, rule, value)}
        except IdentifierError as error:
            return self.reject(
                dispatcher, tracker, slot, response, value=shown(value), count=error.count, **kwargs
            )

    def extract_choice(
        self,
        tracker: Tracker,
        slot: str,
        choices: dict[str, tuple[str, ...]],
        trigger_intent: str,
        precedence: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """A choice slot's value: the answer to its question, or a keyword in the request
        that opened the form ("reset mfa sakti", "aktivasi digit").

        Args:
            tracker: The conversation.
            slot: The choice slot (custom mapping).
            choices: Choice key -> keywords (`helpdesk.conversation.identifiers.parse_choice`).
            trigger_intent: The intent of requests that open the form.
            precedence: Keys that win when a request names several choices.
        """
        if tracker.get_slot(slot):
            return {}
        text = str((tracker.latest_message or {}).get("text") or "").strip()
        intent = self.latest_intent(tracker)
        if self.requested(tracker) == slot:
            return {} if intent in NOT_AN_ANSWER or not text else {slot: text}
        if intent == trigger_intent and not text[:1].isdigit():
            key = parse_choice(text, choices, precedence)
            return {slot: key} if key else {}
        return {}

    @staticmethod
    def parse_number(tracker: Tracker, rule: DigitRule, value: Any) -> str:
        """The number in the slot's value, else the one in the whole message.

        NLU can tag a fragment of a number typed in groups ("nik saya 3404 0202 0290 0013")
        as the entity; the message itself still holds the whole number.

        Raises:
            IdentifierError: The value's problem, when the message holds no valid number either.
        """
        try:
            return rule.parse(value)
        except IdentifierError:
            text = str((tracker.latest_message or {}).get("text") or "")
            if text and text.strip() != str(value or "").strip():
                try:
                    return rule.parse(text)
                except IdentifierError:
                    pass
            raise

    @staticmethod
    def requested(tracker: Tracker) -> str | None:
        """The slot the form is asking for now."""
        return tracker.get_slot(slots.REQUESTED_SLOT)

    latest_intent = staticmethod(latest_intent)
