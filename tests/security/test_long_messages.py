"""A long message: NLU reads its beginning (components/length_guard.py), the citizen is told
so politely, and a ticket's chronology keeps the whole text."""

from __future__ import annotations

from typing import Any

from actions.answer_faq import ActionAnswerFaq
from actions.base import TEXT_TRUNCATED_KEY, note_cut_message, whole_text
from actions.forms.validate_sp2d_form import ValidateSp2dForm
from actions.forms.validate_ticket_form import ValidateTicketForm
from components.length_guard import DEFAULT_MAX_CHARACTERS, TRUNCATED_KEY, cut_text
from tests.actions.conftest import make_tracker, responses

QUESTION = "Apa itu SP2D? "
LONG = QUESTION + "Saya sudah menunggu pencairan dana ini sejak lama sekali. " * 400


def long_tracker(text: str = LONG, **kwargs: Any):
    """A tracker as the action server gets it after a long message: the user event holds the
    whole text, `latest_message` the text NLU read and the flag."""
    tracker = make_tracker(
        cut_text(text, DEFAULT_MAX_CHARACTERS),
        events=[{"event": "user", "text": text, "parse_data": {}}],
        **kwargs,
    )
    tracker.latest_message[TEXT_TRUNCATED_KEY] = True
    return tracker


def test_the_flag_name_is_the_components_one() -> None:
    assert TEXT_TRUNCATED_KEY == TRUNCATED_KEY


async def test_a_long_question_is_answered_after_the_note(services, dispatcher) -> None:
    await ActionAnswerFaq(services).run(dispatcher, long_tracker(), {})
    said = responses(dispatcher)
    assert said[0] == "utter_message_truncated"
    assert said[1] == "utter_faq_answer"
    assert said.count("utter_message_truncated") == 1


async def test_a_normal_question_gets_no_note(services, dispatcher) -> None:
    await ActionAnswerFaq(services).run(dispatcher, make_tracker("apa itu sp2d"), {})
    assert "utter_message_truncated" not in responses(dispatcher)


def test_the_chronology_keeps_the_whole_text(dispatcher) -> None:
    tracker = long_tracker(active_loop="ticket_form")
    cut = tracker.latest_message["text"]
    result = ValidateTicketForm().validate_ticket_chronology(cut, dispatcher, tracker, {})
    assert result == {"ticket_chronology": LONG.strip()}
    assert len(result["ticket_chronology"]) > 10 * DEFAULT_MAX_CHARACTERS


def test_a_refused_value_of_a_long_message_says_why_once(dispatcher) -> None:
    tracker = long_tracker(active_loop="sp2d_form", intent="inform")
    validator = ValidateSp2dForm()
    validator.validate_sp2d_number("123", dispatcher, tracker, {})
    validator.validate_sp2d_account("x", dispatcher, tracker, {})
    said = responses(dispatcher)
    assert said[0] == "utter_message_truncated"
    assert said.count("utter_message_truncated") == 1
    assert "utter_invalid_sp2d_number" in said


def test_whole_text_reads_the_latest_user_event() -> None:
    events = [
        {"event": "user", "text": "pertama"},
        {"event": "bot", "text": "jawaban"},
        {"event": "user", "text": "kedua, utuh"},
        {"event": "action", "name": "action_listen"},
    ]
    assert whole_text(make_tracker("kedua", events=events)) == "kedua, utuh"
    assert whole_text(make_tracker("tanpa event")) == "tanpa event"


def test_no_note_without_the_flag(dispatcher) -> None:
    note_cut_message(dispatcher, make_tracker("x" * 5000))
    assert dispatcher.messages == []
