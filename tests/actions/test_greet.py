"""action_greet: the session's first greeting gets the introduction and the menu, no second
greeting; later greetings get a short reply."""

from __future__ import annotations

from actions.greet import ActionGreet
from tests.actions.conftest import make_tracker, responses

SESSION_OPENING = [
    {"event": "action", "name": "action_session_start"},
    {"event": "session_started"},
    {"event": "action", "name": "action_listen"},
]


def _user(text: str) -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "greet"}}}


async def test_first_greeting_of_the_session_gets_the_introduction_and_menu(services, dispatcher):
    tracker = make_tracker("halo", intent="greet", events=[*SESSION_OPENING, _user("halo")])

    events = await ActionGreet(services).run(dispatcher, tracker, {})

    assert events == [{"event": "slot", "timestamp": None, "name": "menu_target", "value": None}]
    # No second "Halo": action_session_start has just greeted by name.
    assert responses(dispatcher) == ["utter_service_intro", "utter_menu"]
    menu = dispatcher.messages[1]
    assert "1. Tanya" in menu["menu_items"]
    assert [b["payload"] for b in menu["buttons"]][0] == '/menu_select{"number":"1"}'


async def test_greeting_later_in_the_session_is_answered(dispatcher):
    events = [
        *SESSION_OPENING,
        _user("apa itu sp2d"),
        {"event": "action", "name": "action_answer_faq"},
        {"event": "action", "name": "action_listen"},
        _user("halo"),
    ]
    tracker = make_tracker("halo", intent="greet", events=events)

    await ActionGreet().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_greet"]


async def test_greeting_in_a_new_session_after_an_old_one(services, dispatcher):
    events = [
        *SESSION_OPENING,
        _user("halo"),
        {"event": "action", "name": "action_listen"},
        *SESSION_OPENING,
        _user("selamat pagi"),
    ]
    tracker = make_tracker("selamat pagi", intent="greet", events=events)

    await ActionGreet(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_service_intro", "utter_menu"]
