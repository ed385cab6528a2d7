"""The csat form's actions: validate_csat_form accepts a 1-5 rating typed as a number, a word
or a button; action_ask_csat_rating asks it, about an FAQ answer or about a human agent."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from helpdesk.storage.enums import CsatKind

#: Label of each rating, as on the buttons.
RATING_LABELS = {
    1: "Sangat Tidak Puas",
    2: "Tidak Puas",
    3: "Cukup",
    4: "Puas",
    5: "Sangat Puas",
}

# Longest phrases first: "sangat tidak puas" must win over "tidak puas" and "puas".
_RATING_WORDS: tuple[tuple[str, int], ...] = (
    ("sangat tidak puas", 1),
    ("sangat kecewa", 1),
    ("sangat buruk", 1),
    ("tidak puas", 2),
    ("tdk puas", 2),
    ("gak puas", 2),
    ("ga puas", 2),
    ("nggak puas", 2),
    ("kurang puas", 2),
    ("kecewa", 2),
    ("buruk", 2),
    ("sangat puas", 5),
    ("puas sekali", 5),
    ("sangat memuaskan", 5),
    ("sangat baik", 5),
    ("mantap", 5),
    ("cukup", 3),
    ("lumayan", 3),
    ("biasa", 3),
    ("puas", 4),
    ("memuaskan", 4),
    ("baik", 4),
    ("bagus", 4),
    ("satu", 1),
    ("dua", 2),
    ("tiga", 3),
    ("empat", 4),
    ("lima", 5),
)


def parse_rating(value: Any) -> int | None:
    """The 1-5 rating in `value` ("4", 4, "empat", "sangat puas", "5 - Sangat Puas"), or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value) == int(value) and 1 <= int(value) <= 5 else None
    text = " ".join(re.sub(r"[^0-9a-z]+", " ", str(value).lower()).split())
    if not text:
        return None
    digits = re.findall(r"\d+", text)
    if digits:
        number = int(digits[0])
        return number if 1 <= number <= 5 else None
    padded = f" {text} "
    for phrase, rating in _RATING_WORDS:
        if f" {phrase} " in padded:
            return rating
    return None


class ValidateCsatForm(FormValidationAction):
    """Validate the satisfaction rating."""

    def name(self) -> str:
        return "validate_csat_form"

    def validate_csat_rating(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """Accept 1-5 as digits or words; otherwise explain and ask again."""
        rating = parse_rating(slot_value)
        if rating is None:
            dispatcher.utter_message(response="utter_csat_invalid", value=str(slot_value))
            return {slots.CSAT_RATING: None}
        return {slots.CSAT_RATING: str(rating)}


class ActionAskCsatRating(Action):
    """Ask for the rating (the form's question, first time and after an invalid answer).

    An agent rating (slot csat_kind "agent", set by action_handoff_end) asks about the
    officer's service; any other rating about the FAQ answer.
    """

    def name(self) -> str:
        return "action_ask_csat_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot(slots.CSAT_KIND) == CsatKind.AGENT:
            dispatcher.utter_message(response="utter_ask_agent_rating")
        else:
            dispatcher.utter_message(response="utter_ask_csat_rating")
        return []
