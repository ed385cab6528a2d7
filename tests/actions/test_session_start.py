"""Tests of action_session_start."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from actions.session_start import ActionSessionStart
from helpdesk.storage.models import Conversation
from tests.actions.conftest import Broken, make_tracker, responses


def _at_utc(hour: int, minute: int = 0):
    return lambda: datetime(2026, 4, 14, hour, minute, tzinfo=timezone.utc)


async def test_greets_by_name_and_time_of_day_in_one_line(services, dispatcher):
    tracker = make_tracker(
        slots={"session_started_metadata": {"name": "  Budi   Santoso ", "channel": "whatsapp"}}
    )
    # 01:30 UTC is 08:30 WIB: morning.
    action = ActionSessionStart(services, clock=_at_utc(1, 30))

    events = await action.run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_session_greeting"]
    greeting = dispatcher.messages[0]
    assert (greeting["greeting"], greeting["name"]) == ("Selamat pagi", "Budi Santoso")
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    # Nothing is carried over: only this session's metadata is set again.
    slot_names = [e["name"] for e in events if e["event"] == "slot"]
    assert slot_names == ["session_started_metadata"]
    with services.session_factory() as session:
        (row,) = session.execute(select(Conversation)).scalars()
    assert (row.sender_id, row.channel) == ("6281234567890", "whatsapp")


async def test_without_a_name_uses_the_polite_form_in_the_helpdesk_time_zone(services, dispatcher):
    # 12:00 UTC is 19:00 WIB: evening.
    events = await ActionSessionStart(services, clock=_at_utc(12)).run(
        dispatcher, make_tracker(), {}
    )

    greeting = dispatcher.messages[0]
    assert (greeting["greeting"], greeting["name"]) == ("Selamat malam", "Bapak/Ibu")
    assert [e["event"] for e in events] == ["session_started", "action"]


async def test_channel_falls_back_to_the_latest_input_channel(services, dispatcher):
    tracker = make_tracker(
        events=[{"event": "user", "text": "halo", "input_channel": "rest", "parse_data": {}}]
    )

    await ActionSessionStart(services, clock=_at_utc(8)).run(dispatcher, tracker, {})

    with services.session_factory() as session:
        (row,) = session.execute(select(Conversation)).scalars()
    assert row.channel == "rest"
    assert dispatcher.messages[0]["greeting"] == "Selamat sore"  # 15:00 WIB


async def test_database_failure_still_greets(services, dispatcher, monkeypatch):
    monkeypatch.setattr(type(services), "conversations", property(lambda self: Broken()))

    events = await ActionSessionStart(services, clock=_at_utc(5)).run(
        dispatcher, make_tracker(), {}
    )

    assert responses(dispatcher) == ["utter_session_greeting"]
    assert dispatcher.messages[0]["greeting"] == "Selamat siang"  # 12:00 WIB
    assert events[-1]["name"] == "action_listen"


# --- while a human agent holds the conversation --------------------------------------------


async def test_an_open_handoff_keeps_the_new_session_silent_and_paused(services, dispatcher):
    services.handoff.request("6281234567890")
    tracker = make_tracker(slots={"session_started_metadata": {"name": "Budi"}})

    events = await ActionSessionStart(services, clock=_at_utc(2)).run(dispatcher, tracker, {})

    assert dispatcher.messages == []
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "pause", "action"]
    assert events[1]["value"] == {"name": "Budi"}
    assert (events[2]["name"], events[2]["value"]) == ("handoff_waiting", True)
    assert events[-1]["name"] == "action_listen"
    # A session under an agent is not a new conversation with the bot.
    with services.session_factory() as session:
        assert list(session.execute(select(Conversation)).scalars()) == []


async def test_a_waiting_handoff_keeps_batal_open_in_the_new_session(services, dispatcher):
    services.handoff.request("6281234567890")

    events = await ActionSessionStart(services, clock=_at_utc(2)).run(
        dispatcher, make_tracker(), {}
    )

    assert {"event": "slot", "name": "handoff_waiting", "value": True} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in events
    ]
    assert "pause" in [e["event"] for e in events]


async def test_an_ended_handoff_greets_as_usual(services, dispatcher):
    handoff_id = services.handoff.request("6281234567890").handoff.id
    services.handoff.cancel(handoff_id)

    events = await ActionSessionStart(services, clock=_at_utc(2)).run(
        dispatcher, make_tracker(), {}
    )

    assert responses(dispatcher) == ["utter_session_greeting"]
    assert "pause" not in [e["event"] for e in events]


async def test_another_conversations_handoff_does_not_pause_this_one(services, dispatcher):
    services.handoff.request("6289999999999")

    events = await ActionSessionStart(services, clock=_at_utc(2)).run(
        dispatcher, make_tracker(), {}
    )

    assert responses(dispatcher)[0] == "utter_session_greeting"
    assert "pause" not in [e["event"] for e in events]


async def test_a_broken_handoff_store_still_greets(services, dispatcher, monkeypatch, caplog):
    monkeypatch.setattr(type(services), "handoffs", property(lambda self: Broken()))

    events = await ActionSessionStart(services, clock=_at_utc(2)).run(
        dispatcher, make_tracker(), {}
    )

    assert responses(dispatcher) == ["utter_session_greeting"]
    assert "pause" not in [e["event"] for e in events]
    assert "could not read the open handoff" in caplog.text
