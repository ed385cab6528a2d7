"""Tests of action_handoff: office hours decide between the agents' queue and the offline ticket.

The shipped office hours (helpdesk/office_hours.yml) are WITA, Monday-Thursday 08:00-16:00 and
Friday 08:00-11:30, with the 2026 holidays. Friday 20 November 2026 is an ordinary Friday.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.handoff import ActionHandoff
from helpdesk.handoff.service import OFFLINE_SUBJECT
from helpdesk.services import Services
from helpdesk.storage.db import session_scope
from helpdesk.storage.models import DeskUser, Ticket
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


# --- in office hours: the agents' queue ----------------------------------------------------


def add_agent(services: Services, username: str = "sari", *, online: bool = True) -> int:
    with session_scope(services.session_factory) as session:
        user = DeskUser(
            username=username,
            display_name=username.title(),
            password_hash="scrypt$unused",
            role="agent",
            active=True,
            online=online,
            max_conversations=3,
        )
        session.add(user)
        session.flush()
        return user.id


def queued_tracker(now: datetime, **kwargs) -> Tracker:
    """A citizen on WhatsApp who asked about SP2D, then asks for an officer."""
    kwargs.setdefault("slots", {"session_started_metadata": {"name": " Budi  Santoso "}})
    return make_tracker(
        "saya mau bicara dengan petugas",
        intent="human_handoff",
        events=conversation(now, channel="whatsapp"),
        sender_id=SENDER,
        **kwargs,
    )


@pytest.mark.parametrize(
    "now",
    [wita(2026, 11, 20, 11, 29), wita(2026, 11, 20, 8, 0), wita(2026, 11, 19, 15, 59)],
    ids=["friday-11:29", "friday-08:00", "thursday-15:59"],
)
async def test_in_office_hours_the_conversation_joins_the_queue_paused(services, dispatcher, now):
    add_agent(services)

    events = await handoff(services, now).run(dispatcher, queued_tracker(now), {})

    assert responses(dispatcher) == ["utter_handoff_queued"]
    reply = dispatcher.messages[0]
    assert (reply["position"], reply["wait_minutes"]) == (1, 3)  # no history: 3 min per place
    # Paused, and the bot's turn ends there: the citizen's next message (a "batal" too)
    # follows an action_listen, so the rule that leaves the queue applies to it.
    assert events[-2] == {"event": "pause", "timestamp": None}
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    assert slot_events(events) == {
        "awaiting_feedback": False,
        "handoff_route": "queue",
        "handoff_waiting": True,
    }

    record = services.handoffs.open_for(SENDER)
    assert record is not None and record.status == "waiting"
    assert (record.channel, record.name) == ("whatsapp", "Budi Santoso")
    # The question is the citizen's message before the request, not the request itself.
    assert record.question == "SP2D kami belum cair"
    assert record.category is None
    assert record.since_ts == pytest.approx((now - timedelta(seconds=5)).timestamp())
    assert ticket_count(services) == 0


async def test_the_queue_place_counts_the_conversations_ahead(services, dispatcher):
    now = wita(2026, 11, 19, 10, 0)
    add_agent(services)
    services.handoff.request("6281111111111")
    services.handoff.request("6282222222222")

    await handoff(services, now).run(dispatcher, queued_tracker(now), {})

    reply = dispatcher.messages[0]
    assert (reply["position"], reply["wait_minutes"]) == (3, 9)


async def test_without_online_agents_the_citizen_hears_they_are_busy_and_about_the_ticket(
    services, dispatcher
):
    now = wita(2026, 11, 19, 10, 0)
    add_agent(services, online=False)

    events = await handoff(services, now).run(dispatcher, queued_tracker(now), {})

    assert responses(dispatcher) == ["utter_handoff_queued_busy"]
    reply = dispatcher.messages[0]
    assert (reply["position"], reply["timeout_minutes"]) == (1, 15)
    assert {"event": "pause", "timestamp": None} in events


async def test_a_second_request_repeats_the_place_of_the_same_handoff(services, dispatcher):
    now = wita(2026, 11, 19, 10, 0)
    add_agent(services)
    services.handoff.request("6281111111111")
    first = CollectingDispatcher()
    await handoff(services, now).run(first, queued_tracker(now), {})

    events = await handoff(services, now).run(dispatcher, queued_tracker(now), {})

    assert responses(dispatcher) == ["utter_handoff_still_queued"]
    assert dispatcher.messages[0]["position"] == 2
    assert slot_events(events)["handoff_route"] == "queue"
    assert slot_events(events)["handoff_waiting"] is True
    assert {"event": "pause", "timestamp": None} in events
    assert len(services.handoffs.search(statuses=["waiting"])) == 2


async def test_a_request_while_an_agent_holds_the_conversation_says_so(services, dispatcher):
    now = wita(2026, 11, 19, 10, 0)
    agent = add_agent(services)
    place = services.handoff.request(SENDER)
    services.handoff.take(place.handoff.id, agent, 3)

    events = await handoff(services, now).run(dispatcher, queued_tracker(now), {})

    assert responses(dispatcher) == ["utter_handoff_in_progress"]
    assert {"event": "pause", "timestamp": None} in events
    # Not waiting: a "batal" now is a message for the agent, the bot stays silent.
    assert slot_events(events)["handoff_waiting"] is None


async def test_the_last_faq_question_and_its_category_go_with_the_request(services, dispatcher):
    now = wita(2026, 11, 19, 10, 0)
    tracker = queued_tracker(
        now,
        slots={"last_question": "lupa password sakti", "faq_id": "sakti-reset-password"},
    )

    await handoff(services, now).run(dispatcher, tracker, {})

    record = services.handoffs.open_for(SENDER)
    assert (record.question, record.category, record.name) == (
        "lupa password sakti",
        "SAKTI",
        None,
    )


async def test_the_question_skips_menu_choices_and_payloads(services, dispatcher):
    now = wita(2026, 11, 19, 10, 0)

    def user(text: str, intent: str, seconds: int) -> dict:
        at = now - timedelta(seconds=seconds)
        return message("user", at, text, parse_data={"intent": {"name": intent}})

    events = [
        {"event": "session_started", "timestamp": now.timestamp() - 100},
        user("printer kantor tidak bisa cetak SP2D", "ask_question", 60),
        user("menu", "menu", 40),
        user("/affirm", "affirm", 30),
        user("8", "menu_select", 5),
    ]
    tracker = make_tracker("8", intent="menu_select", events=events, sender_id=SENDER)

    await handoff(services, now).run(dispatcher, tracker, {})

    assert services.handoffs.open_for(SENDER).question == "printer kantor tidak bisa cetak SP2D"


async def test_without_an_earlier_message_the_question_is_empty(services, dispatcher):
    now = wita(2026, 11, 19, 10, 0)
    tracker = make_tracker(
        "cs",
        intent="human_handoff",
        events=[message("user", now, "cs", parse_data={"intent": {"name": "human_handoff"}})],
        sender_id=SENDER,
    )

    await handoff(services, now).run(dispatcher, tracker, {})

    record = services.handoffs.open_for(SENDER)
    assert record.question is None
    assert record.since_ts == pytest.approx(now.timestamp())


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
    assert slots["handoff_route"] == "queue"


async def test_a_broken_queue_offers_a_ticket(settings, session_factory, dispatcher, monkeypatch):
    services = Services(settings, session_factory=session_factory)
    monkeypatch.setattr(type(services), "handoffs", property(lambda self: Broken()))

    events = await handoff(services, wita(2026, 11, 19, 10, 0)).run(
        dispatcher, queued_tracker(wita(2026, 11, 19, 10, 0)), {}
    )

    assert responses(dispatcher) == ["utter_technical_problem", "utter_handoff_offer_ticket"]
    assert slot_events(events) == {"handoff_route": None}
    assert not any(e["event"] == "pause" for e in events)


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


async def test_an_offline_ticket_goes_to_the_division_of_the_last_faq(services, dispatcher):
    from helpdesk.storage.divisions import DivisionRepository

    sakti = DivisionRepository(services.session_factory).create("Tim SAKTI", "SAKTI")
    now = wita(2026, 11, 20, 11, 31)
    tracker = make_tracker(
        "saya mau bicara dengan petugas",
        intent="human_handoff",
        events=conversation(now),
        slots={"faq_id": "sakti-reset-password"},
        sender_id=SENDER,
    )

    await handoff(services, now).run(dispatcher, tracker, {})

    ticket = services.ticket_repository.get(dispatcher.messages[0]["ticket_number"])
    assert ticket.division_id == sakti.id


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

    assert responses(dispatcher) == ["utter_technical_problem", "utter_handoff_offer_ticket"]
    assert slot_events(events)["handoff_route"] is None
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert "handoff request could not be handled" in caplog.text


async def test_unreadable_office_hours_give_the_technical_problem_reply(
    services, dispatcher, monkeypatch
):
    monkeypatch.setattr(type(services), "office_hours", failing_property(ValueError("bad yml")))

    events = await handoff(services, wita(2026, 11, 20, 10, 0)).run(dispatcher, make_tracker(), {})

    assert responses(dispatcher) == ["utter_technical_problem", "utter_handoff_offer_ticket"]
    assert slot_events(events) == {"handoff_route": None}


async def test_without_an_injected_clock_the_current_time_decides(services, dispatcher):
    before = services.office_hours.is_open(datetime.now(timezone.utc))
    events = await ActionHandoff(services).run(dispatcher, make_tracker(), {})
    after = services.office_hours.is_open(datetime.now(timezone.utc))

    if before == after:  # not run exactly at an opening or closing time
        assert slot_events(events)["handoff_route"] == ("queue" if before else "offline")


@pytest.mark.parametrize(
    ("response", "values"),
    [
        ("utter_handoff_offline", {"hours", "next_opening", "ticket_number"}),
        ("utter_handoff_queued", {"position", "wait_minutes"}),
        ("utter_handoff_queued_busy", {"position", "timeout_minutes"}),
        ("utter_handoff_still_queued", {"position", "wait_minutes"}),
        ("utter_handoff_in_progress", set()),
        ("utter_handoff_offer_ticket", set()),
    ],
)
def test_the_replies_use_exactly_the_values_the_action_sends(response, values):
    domain = domain_dict()
    (reply,) = domain["responses"][response]
    assert set(re.findall(r"{(\w+)}", reply["text"])) == values
    if response.startswith("utter_handoff_queued") or response == "utter_handoff_still_queued":
        assert '"batal"' in reply["text"]  # how to leave the queue
    if response == "utter_handoff_queued_busy":
        assert "sibuk" in reply["text"] and "tiket" in reply["text"]
    assert "action_handoff" in domain["actions"]
    assert domain["slots"]["handoff_route"]["values"] == ["queue", "offline"]


def test_the_ticket_is_offered_with_a_button():
    (reply,) = domain_dict()["responses"]["utter_handoff_offer_ticket"]
    assert [b["payload"] for b in reply["buttons"]] == ["/create_ticket"]


async def test_a_request_run_again_after_a_crash_opens_no_second_handoff(services, dispatcher):
    """Rasa died after the handoff was made and before it saved the turn; an agent served and
    resolved it meanwhile; the inbox hands the same message (same id) to Rasa again."""
    now = wita(2026, 11, 19, 10, 0)
    agent = add_agent(services)
    tracker = queued_tracker(now)
    tracker.latest_message["message_id"] = "wamid.MINTA-PETUGAS"
    await handoff(services, now).run(CollectingDispatcher(), tracker, {})
    (first,) = services.handoffs.search(statuses=["waiting"])
    services.handoff.take(first.id, agent, 3)
    assert services.handoff.resolve(first.id)

    events = await handoff(services, now).run(dispatcher, tracker, {})

    assert responses(dispatcher) == []  # the citizen was told the first time
    assert {"event": "pause", "timestamp": None} not in events  # nobody would resume it
    assert slot_events(events) == {"awaiting_feedback": False}
    assert services.handoffs.open_for(SENDER) is None
    assert len(services.handoffs.search()) == 1

    other = queued_tracker(now)
    other.latest_message["message_id"] = "wamid.MINTA-LAGI"  # a new request: a new handoff
    await handoff(services, now).run(CollectingDispatcher(), other, {})
    assert services.handoffs.open_for(SENDER).id != first.id


def test_the_same_request_key_gives_the_same_handoff_in_any_state(services):
    handoffs = services.handoffs
    first, created = handoffs.open(SENDER, request_key="6281:wamid.A")
    assert created
    again, created = handoffs.open(SENDER, request_key="6281:wamid.A")
    assert (again.id, created) == (first.id, False)
    queued, created = handoffs.open(SENDER, request_key="6281:wamid.B")  # still open: the same
    assert (queued.id, created) == (first.id, False)
