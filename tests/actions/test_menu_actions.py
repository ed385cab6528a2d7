"""Tests of action_show_menu and action_menu_select."""

from __future__ import annotations

from actions.menu_select import ActionMenuSelect
from actions.show_menu import ActionShowMenu
from tests.actions.conftest import failing_property, make_tracker, responses, slot_events


def _followups(events):
    return [e["name"] for e in events if e["event"] == "followup"]


async def test_show_menu_lists_items_with_buttons(services, dispatcher):
    events = await ActionShowMenu(services).run(dispatcher, make_tracker("menu", intent="menu"), {})

    assert responses(dispatcher) == ["utter_menu"]
    message = dispatcher.messages[0]
    assert message["menu_items"].splitlines() == [
        "1. Tanya - ajukan pertanyaan seputar layanan",
        "2. Cek Status Tiket - lihat perkembangan tiket Anda",
        "3. Cek SP2D - informasi SP2D dengan nomor SP2D dan rekening penerima",
        "4. Cek Pendaftaran Kontrak - status pendaftaran kontrak di KPPN",
        "5. Layanan Akun DIGIT - cek status, cek e-mail, aktivasi, reset, buka blokir",
        "6. Reset SAKTI - reset password atau MFA SAKTI (dari nomor WhatsApp terdaftar)",
        "7. Buat Tiket - laporkan kendala atau permintaan kepada petugas",
        "8. Bicara dengan Petugas - chat langsung dengan petugas pada jam layanan",
    ]
    assert [b["title"] for b in message["buttons"]] == [
        "1. Tanya",
        "2. Cek Status Tiket",
        "3. Cek SP2D",
        "4. Cek Pendaftaran Kontrak",
        "5. Layanan Akun DIGIT",
        "6. Reset SAKTI",
        "7. Buat Tiket",
        "8. Bicara dengan Petugas",
    ]
    assert slot_events(events) == {"awaiting_feedback": False}


async def test_show_menu_in_a_form_leaves_the_form_and_clears_its_slots(services, dispatcher):
    tracker = make_tracker(
        "menu",
        intent="menu",
        active_loop="ticket_form",
        slots={"ticket_subject": "SP2D belum cair", "requested_slot": "ticket_chronology"},
    )

    events = await ActionShowMenu(services).run(dispatcher, tracker, {})

    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    slots = slot_events(events)
    assert slots["requested_slot"] is None
    assert slots["ticket_subject"] is None and slots["ticket_email"] is None
    assert responses(dispatcher) == ["utter_menu"]


async def test_show_menu_with_a_broken_menu_file_apologises(services, dispatcher):
    services._menu = None
    services.settings.__dict__["menu_file"] = services.settings.var_dir / "missing.yml"

    await ActionShowMenu(services).run(dispatcher, make_tracker("menu", intent="menu"), {})

    assert responses(dispatcher) == ["utter_technical_problem"]


async def test_choice_by_number_entity_starts_the_target(services, dispatcher):
    tracker = make_tracker(
        '/menu_select{"number":"2"}',
        intent="menu_select",
        entities=[{"entity": "number", "value": "2"}],
    )

    events = await ActionMenuSelect(services).run(dispatcher, tracker, {})

    assert dispatcher.messages == []
    assert _followups(events) == ["ticket_status_form"]
    assert slot_events(events)["menu_target"] == "ticket_status_form"


async def test_choice_by_misspelled_name_starts_the_target(services, dispatcher):
    tracker = make_tracker("bikin tiket", intent="menu_select")

    events = await ActionMenuSelect(services).run(dispatcher, tracker, {})

    assert _followups(events) == ["ticket_form"]


async def test_choice_in_a_form_leaves_that_form_first(services, dispatcher):
    tracker = make_tracker(
        "1",
        intent="menu_select",
        entities=[{"entity": "number", "value": "1"}],
        active_loop="ticket_status_form",
        slots={"requested_slot": "ticket_id"},
    )

    events = await ActionMenuSelect(services).run(dispatcher, tracker, {})

    assert events[0] == {"event": "active_loop", "name": None, "timestamp": None}
    assert slot_events(events)["ticket_id"] is None
    assert _followups(events) == ["utter_ask_question_prompt"]


async def test_unknown_number_re_shows_the_menu_politely(services, dispatcher):
    tracker = make_tracker("9", intent="menu_select", entities=[{"entity": "number", "value": "9"}])

    events = await ActionMenuSelect(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_menu_invalid_choice", "utter_menu"]
    assert dispatcher.messages[0]["choice"] == "9"
    assert _followups(events) == []
    assert slot_events(events) == {"menu_target": None}


async def test_menu_failure_gives_polite_error(services, dispatcher, monkeypatch):
    monkeypatch.setattr(type(services), "menu", failing_property(ValueError("bad menu")))

    events = await ActionMenuSelect(services).run(
        dispatcher, make_tracker("2", intent="menu_select"), {}
    )

    assert responses(dispatcher) == ["utter_technical_problem"]
    assert _followups(events) == []


async def test_unknown_number_in_a_form_leaves_the_form_and_shows_the_menu(services, dispatcher):
    tracker = make_tracker(
        "9",
        intent="menu_select",
        entities=[{"entity": "number", "value": "9"}],
        active_loop="ticket_form",
    )

    events = await ActionMenuSelect(services).run(dispatcher, tracker, {})

    assert events[0] == {"event": "active_loop", "name": None, "timestamp": None}
    assert responses(dispatcher) == ["utter_menu_invalid_choice", "utter_menu"]
    assert slot_events(events)["menu_target"] is None


async def test_choice_8_hands_the_conversation_to_an_officer(services, dispatcher):
    tracker = make_tracker(
        "8",
        intent="menu_select",
        entities=[{"entity": "number", "value": "8"}],
        active_loop="sp2d_form",
        slots={"awaiting_feedback": True},
    )

    events = await ActionMenuSelect(services).run(dispatcher, tracker, {})

    assert dispatcher.messages == []
    assert events[0] == {"event": "active_loop", "name": None, "timestamp": None}
    assert _followups(events) == ["action_handoff"]
    assert slot_events(events)["menu_target"] == "action_handoff"


async def test_choice_by_the_name_of_item_8(services, dispatcher):
    events = await ActionMenuSelect(services).run(
        dispatcher, make_tracker("hubungi petugas", intent="menu_select"), {}
    )

    assert _followups(events) == ["action_handoff"]


def test_every_menu_target_is_a_value_of_slot_menu_target(services):
    """A target missing from the slot's values would break the menu rules in data/rules.yml."""
    from tests.actions.conftest import domain_dict

    values = domain_dict()["slots"]["menu_target"]["values"]
    assert [item.action for item in services.menu.items] == [
        v for v in values if v in {item.action for item in services.menu.items}
    ]
    assert {item.action for item in services.menu.items} <= set(values)
