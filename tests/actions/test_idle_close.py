"""Tests of action_idle_close (run by the idle sweeper through the Rasa HTTP API)."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone

import pytest

from actions.idle_close import CLOCK_SLACK, ActionIdleClose
from helpdesk.services import Services
from tests.actions.conftest import domain_dict, make_tracker, responses

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc).timestamp()


def user(seconds_ago: float, text: str = "cek sp2d") -> dict:
    return {"event": "user", "timestamp": NOW - seconds_ago, "text": text}


def bot(seconds_ago: float, text: str = "Silakan ketik nomor SP2D.") -> dict:
    return {"event": "bot", "timestamp": NOW - seconds_ago, "text": text}


def action(services: Services) -> ActionIdleClose:
    return ActionIdleClose(services, clock=lambda: NOW)


async def test_an_idle_conversation_gets_the_idle_message_and_a_new_session(services, dispatcher):
    tracker = make_tracker(
        events=[user(400), bot(399)], active_loop="sp2d_form", slots={"requested_slot": "x"}
    )

    events = await action(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_session_idle"]
    assert dispatcher.messages[0]["minutes"] == 5  # HELPDESK_IDLE_SECONDS=300
    assert dispatcher.messages[0]["website"].endswith("https://djpb.kemenkeu.go.id")
    assert [e["event"] for e in events] == ["session_started"]


async def test_a_recent_user_message_leaves_the_conversation_open(services, dispatcher):
    tracker = make_tracker(events=[user(3600), bot(3599), user(60)])

    events = await action(services).run(dispatcher, tracker, {})

    assert events == []
    assert dispatcher.messages == []


async def test_only_user_messages_count_as_activity(services, dispatcher):
    tracker = make_tracker(events=[user(400), bot(2), {"event": "action", "timestamp": NOW - 1}])

    events = await action(services).run(dispatcher, tracker, {})

    assert [e["event"] for e in events] == ["session_started"]


async def test_a_conversation_without_a_user_message_is_left_alone(services, dispatcher):
    tracker = make_tracker(events=[{"event": "session_started", "timestamp": NOW - 900}])

    assert await action(services).run(dispatcher, tracker, {}) == []
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("seconds_ago", "closed"),
    [(300 - CLOCK_SLACK - 1, False), (300 - CLOCK_SLACK + 1, True)],
    ids=["beyond-clock-slack", "within-clock-slack"],
)
async def test_a_small_clock_difference_with_the_sweeper_is_tolerated(
    services, dispatcher, seconds_ago, closed
):
    tracker = make_tracker(events=[user(seconds_ago)])

    events = await action(services).run(dispatcher, tracker, {})

    assert bool(events) is closed
    assert responses(dispatcher) == (["utter_session_idle"] if closed else [])


@pytest.mark.parametrize(("idle_seconds", "minutes"), [(30, 1), (600, 10), (3600, 60)])
async def test_the_message_names_the_idle_time_in_minutes(
    settings, session_factory, dispatcher, idle_seconds, minutes
):
    services = Services(
        dataclasses.replace(settings, idle_seconds=idle_seconds), session_factory=session_factory
    )
    tracker = make_tracker(events=[user(idle_seconds + 60)])

    await action(services).run(dispatcher, tracker, {})

    assert dispatcher.messages[0]["minutes"] == minutes


def test_the_action_and_its_response_are_in_the_domain():
    domain = domain_dict()
    assert ActionIdleClose().name() == "action_idle_close"
    assert "action_idle_close" in domain["actions"]
    (variant,) = domain["responses"]["utter_session_idle"]
    assert set(re.findall(r"{(\w+)}", variant["text"])) == {"minutes", "website"}
    assert variant["text"].startswith("Sesi chat berakhir")


async def test_the_goodbye_gives_the_organisations_website(services, dispatcher):
    from dataclasses import replace

    from helpdesk.profile import PROFILES_DIR
    from helpdesk.services import Services

    krs = Services(replace(services.settings, profile_dir=PROFILES_DIR / "krs"))
    tracker = make_tracker(events=[user(400), bot(399)])

    await action(krs).run(dispatcher, tracker, {})

    assert dispatcher.messages[0]["website"] == " Informasi lengkap: https://perumahan.pu.go.id"
