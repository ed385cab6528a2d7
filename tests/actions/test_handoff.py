"""Tests of action_handoff: office hours decide between the ticket route and the offline ticket.

The shipped office hours (helpdesk/office_hours.yml) are WITA, Monday-Thursday 08:00-16:00 and
Friday 08:00-11:30, with the 2026 holidays. Friday 20 November 2026 is an ordinary Friday.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from actions.handoff import ActionHandoff
from helpdesk.handoff import OFFLINE_SUBJECT
from helpdesk.services import Services
from helpdesk.storage.models import Ticket
from tests.actions.conftest import (
    Broken,
    domain_dict,
    failing_property,
    make_tracker,
    responses,
    slot_events,
)

WITA = ZoneInfo("Asia/Makassar")
HOURS = "Senin-Kamis 08.00-16.00 WITA, Jumat 08.00-11.30 WITA"
SENDER = "6281234567890"


def wita(*args: int) -> datetime:
    return datetime(*args, tzinfo=WITA)


def handoff(services: Services, now: datetime) -> ActionHandoff:
    return ActionHandoff(services, clock=lambda: now)


def message(kind: str, at: datetime, text: str, **extra) -> dict:
    return {"event": kind, "timestamp": at.timestamp(), "text": text, **extra}


def conversation(now: datetime, channel: str | None = None) -> list[dict]:
    """An earlier session (yesterday) and the current one, ending with the request for a human."""
    yesterday = now - timedelta(days=1)
    inputs = {"input_channel": channel} if channel else {}
    return [
        {"event": "session_started", "timestamp": yesterday.timestamp()},
        message("user", yesterday, "password sakti saya 12345 rahasia", **inputs),
        message("bot", yesterday, "Ajukan reset password SAKTI kepada admin."),
        {"event": "action", "name": "action_session_start", "timestamp": now.timestamp() - 121},
        {"event": "session_started", "timestamp": now.timestamp() - 120},
        message("user", now - timedelta(seconds=90), "SP2D kami belum cair", **inputs),
        message("bot", now - timedelta(seconds=89), "Silakan ketik nomor SP2D."),
        {"event": "slot", "name": "requested_slot", "value": "sp2d_number"},
        message("user", now - timedelta(seconds=5), "saya mau bicara dengan petugas", **inputs),
    ]


def ticket_count(services: Services) -> int:
    with services.session_factory() as session:
        return session.execute(select(func.count()).select_from(Ticket)).scalar_one()


# --- in office hours ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "now",
    [wita(2026, 11, 20, 11, 29), wita(2026, 11, 20, 8, 0), wita(2026, 11, 19, 15, 59)],
    ids=["friday-11:29", "friday-08:00", "thursday-15:59"],
)
async def test_in_office_hours_the_request_goes_on_as_a_ticket(services, dispatcher, now):
    tracker = make_tracker("mau bicara dengan petugas", intent="human_handoff")

    events = await handoff(services, now).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_handoff_via_ticket"]
    assert slot_events(events) == {"handoff_route": "ticket"}
    assert ticket_count(services) == 0


async def test_in_office_hours_an_open_form_is_left(services, dispatcher):
    tracker = make_tracker(
        "mau bicara dengan petugas",
        intent="human_handoff",
        active_loop="sp2d_form",
        slots={"requested_slot": "sp2d_number"},
    )

    events = await handoff(services, wita(2026, 11, 20, 11, 29)).run(dispatcher, tracker, {})

    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    slots = slot_events(events)
    assert slots["requested_slot"] is None
    assert slots["handoff_route"] == "ticket"


# --- outside office hours -----------------------------------------------------------------


async def test_after_closing_time_the_conversation_becomes_a_ticket(services, dispatcher):
    now = wita(2026, 11, 20, 11, 31)
    tracker = make_tracker(
        "saya mau bicara dengan petugas",
        intent="human_handoff",
        events=conversation(now),
        slots={"session_started_metadata": {"channel": "whatsapp"}},
        sender_id=SENDER,
    )

    events = await handoff(services, now).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_handoff_offline"]
    reply = dispatcher.messages[0]
    assert reply["hours"] == HOURS
    assert reply["next_opening"] == "Senin, 23 November 2026 pukul 08.00 WITA"
    assert re.fullmatch(r"\d{8}-[A-Z]{6}", reply["ticket_number"])
    assert slot_events(events) == {"handoff_route": "offline"}

    ticket = services.ticket_repository.get(reply["ticket_number"])
    assert ticket is not None
    assert ticket.subject == OFFLINE_SUBJECT
    assert (ticket.email, ticket.sender_id, ticket.channel) == (None, SENDER, "whatsapp")
    assert ticket.status == "open"
    # The transcript of the current session only, in the office-hours zone (WITA).
    assert ticket.chronology == (
        "[11.29] Warga: SP2D kami belum cair\n"
        "[11.29] Asisten: Silakan ketik nomor SP2D.\n"
        "[11.30] Warga: saya mau bicara dengan petugas"
    )
    assert "rahasia" not in ticket.chronology
    assert ticket_count(services) == 1


async def test_the_channel_comes_from_the_latest_message_without_session_metadata(
    services, dispatcher
):
    now = wita(2026, 11, 20, 17, 0)
    tracker = make_tracker(events=conversation(now, channel="telegram"), sender_id="tg-42")

    await handoff(services, now).run(dispatcher, tracker, {})

    ticket = services.ticket_repository.get(dispatcher.messages[0]["ticket_number"])
    assert (ticket.sender_id, ticket.channel, ticket.email) == ("tg-42", "telegram", None)


async def test_on_a_holiday_the_request_becomes_a_ticket(services, dispatcher):
    # Monday 17 August 2026, Hari Kemerdekaan: closed although Mondays are office days.
    now = wita(2026, 8, 17, 10, 0)
    tracker = make_tracker(events=conversation(now), sender_id=SENDER)

    events = await handoff(services, now).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_handoff_offline"]
    assert dispatcher.messages[0]["next_opening"] == "Selasa, 18 Agustus 2026 pukul 08.00 WITA"
    assert slot_events(events) == {"handoff_route": "offline"}
    assert ticket_count(services) == 1


async def test_outside_office_hours_an_open_form_is_left_too(services, dispatcher):
    now = wita(2026, 11, 21, 9, 0)  # Saturday
    tracker = make_tracker(
        events=conversation(now),
        active_loop="ticket_form",
        slots={"ticket_subject": "SP2D belum cair", "requested_slot": "ticket_chronology"},
    )

    events = await handoff(services, now).run(dispatcher, tracker, {})

    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    slots = slot_events(events)
    assert (slots["ticket_subject"], slots["requested_slot"]) == (None, None)
    assert slots["handoff_route"] == "offline"
    assert dispatcher.messages[0]["next_opening"] == "Senin, 23 November 2026 pukul 08.00 WITA"


async def test_an_empty_conversation_still_gives_a_ticket(services, dispatcher):
    now = wita(2026, 11, 20, 20, 0)

    await handoff(services, now).run(dispatcher, make_tracker(events=[]), {})

    ticket = services.ticket_repository.get(dispatcher.messages[0]["ticket_number"])
    assert ticket.chronology == "(percakapan kosong)"


# --- failures -----------------------------------------------------------------------------


async def test_a_broken_ticket_store_gives_the_technical_problem_reply(
    settings, session_factory, dispatcher, caplog
):
    services = Services(settings, session_factory=session_factory, tickets=Broken())
    now = wita(2026, 11, 20, 11, 31)

    events = await handoff(services, now).run(
        dispatcher, make_tracker(events=conversation(now), active_loop="sp2d_form"), {}
    )

    assert responses(dispatcher) == ["utter_technical_problem"]
    assert slot_events(events)["handoff_route"] is None
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert "handoff request could not be handled" in caplog.text


async def test_unreadable_office_hours_give_the_technical_problem_reply(
    services, dispatcher, monkeypatch
):
    monkeypatch.setattr(type(services), "office_hours", failing_property(ValueError("bad yml")))

    events = await handoff(services, wita(2026, 11, 20, 10, 0)).run(dispatcher, make_tracker(), {})

    assert responses(dispatcher) == ["utter_technical_problem"]
    assert slot_events(events) == {"handoff_route": None}


async def test_without_an_injected_clock_the_current_time_decides(services, dispatcher):
    before = services.office_hours.is_open(datetime.now(timezone.utc))
    events = await ActionHandoff(services).run(dispatcher, make_tracker(), {})
    after = services.office_hours.is_open(datetime.now(timezone.utc))

    if before == after:  # not run exactly at an opening or closing time
        assert slot_events(events)["handoff_route"] == ("ticket" if before else "offline")


def test_the_replies_use_exactly_the_values_the_action_sends():
    domain = domain_dict()
    (offline,) = domain["responses"]["utter_handoff_offline"]
    placeholders = set(re.findall(r"{(\w+)}", offline["text"]))
    assert placeholders == {"hours", "next_opening", "ticket_number"}
    assert "action_handoff" in domain["actions"]
    assert "handoff_route" in domain["slots"]
