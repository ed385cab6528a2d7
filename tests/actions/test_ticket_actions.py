"""Tests of the ticket form validator, action_create_ticket and the status check."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.base import form_started_at
from actions.check_ticket_status import ActionCheckTicketStatus
from actions.create_ticket import ActionCreateTicket
from actions.forms.validate_ticket_form import ValidateTicketForm
from actions.forms.validate_ticket_status_form import ValidateTicketStatusForm
from helpdesk.storage.models import Ticket
from helpdesk.tickets.service import TicketDraft
from tests.actions.conftest import (
    domain_dict,
    failing_property,
    make_tracker,
    responses,
    slot_events,
)

TICKET_SLOTS = {
    "ticket_subject": "SP2D belum cair",
    "ticket_chronology": "SP2D kami terbit tanggal 10 April tetapi dana belum masuk.",
    "ticket_attachment": "-",
    "ticket_email": "budi@contoh.go.id",
    "ticket_confirmation": "kirim",
}
#: Every slot of ticket_form (cleared once the ticket is created or cancelled).
FORM_SLOTS = (*TICKET_SLOTS, "ticket_edit_field")


# --- validate_ticket_form -------------------------------------------------------------


@pytest.fixture
def validator() -> ValidateTicketForm:
    return ValidateTicketForm()


def test_subject_too_short_is_re_asked_with_reason(validator, dispatcher):
    tracker = make_tracker("sp2d")
    assert validator.validate_ticket_subject("sp2d", dispatcher, tracker, {}) == {
        "ticket_subject": None
    }
    assert responses(dispatcher) == ["utter_invalid_ticket_subject"]


@pytest.mark.parametrize("field", ["ticket_subject", "ticket_chronology"])
def test_a_button_of_an_earlier_step_is_not_stored_as_text(validator, dispatcher, field):
    payload = '/inform{"number":"3"}'  # an old rating button, long enough to pass as text
    validate = getattr(validator, f"validate_{field}")

    assert validate(payload, dispatcher, make_tracker(payload), {}) == {field: None}
    assert responses(dispatcher) == ["utter_button_outdated"]


def test_subject_is_trimmed_and_cut(validator, dispatcher):
    tracker = make_tracker("x")
    result = validator.validate_ticket_subject("  SP2D   belum cair ", dispatcher, tracker, {})
    assert result == {"ticket_subject": "SP2D belum cair"}
    long = validator.validate_ticket_subject("a" * 400, dispatcher, tracker, {})
    assert len(long["ticket_subject"]) == 255


def test_chronology_needs_a_sentence(validator, dispatcher):
    tracker = make_tracker("x")
    assert validator.validate_ticket_chronology("error", dispatcher, tracker, {}) == {
        "ticket_chronology": None
    }
    assert responses(dispatcher) == ["utter_invalid_ticket_chronology"]
    text = "Sejak kemarin tidak bisa login aplikasi SAKTI."
    assert validator.validate_ticket_chronology(text, dispatcher, tracker, {}) == {
        "ticket_chronology": text
    }


@pytest.mark.parametrize("skip", ["lewati", "Tidak ada", "skip", "gak ada", "-"])
def test_attachment_can_be_skipped(validator, dispatcher, skip):
    result = validator.validate_ticket_attachment(skip, dispatcher, make_tracker(skip), {})
    assert result == {"ticket_attachment": "-"}
    assert dispatcher.messages == []


def test_attachment_accepts_url_and_media_id_and_rejects_other_text(validator, dispatcher):
    tracker = make_tracker("x")
    url = "https://contoh.go.id/bukti.pdf"
    assert validator.validate_ticket_attachment(f"ini {url} ya", dispatcher, tracker, {}) == {
        "ticket_attachment": url
    }
    assert validator.validate_ticket_attachment("wamid.HBg123456", dispatcher, tracker, {}) == {
        "ticket_attachment": "wamid.HBg123456"
    }
    assert validator.validate_ticket_attachment("foto nanti", dispatcher, tracker, {}) == {
        "ticket_attachment": None
    }
    assert responses(dispatcher) == ["utter_invalid_ticket_attachment"]


def test_attachment_of_a_message_with_text_is_taken_from_its_media(validator, dispatcher):
    tracker = make_tracker("berikut lampirannya")
    tracker.latest_message["metadata"] = {"media": {"id": "email-att:" + "ab12" * 10}}
    assert validator.validate_ticket_attachment("berikut lampirannya", dispatcher, tracker, {}) == {
        "ticket_attachment": "email-att:" + "ab12" * 10
    }
    assert dispatcher.messages == []


def test_email_is_validated_and_normalised(validator, dispatcher):
    tracker = make_tracker("x")
    assert validator.validate_ticket_email(
        "email saya Budi@Contoh.GO.ID", dispatcher, tracker, {}
    ) == {"ticket_email": "Budi@contoh.go.id"}
    assert validator.validate_ticket_email("budi@", dispatcher, tracker, {}) == {
        "ticket_email": None
    }
    assert responses(dispatcher) == ["utter_invalid_ticket_email"]
    assert dispatcher.messages[0]["value"] == "budi@"


def test_confirmation_send_edit_and_unknown(validator, dispatcher):
    tracker = make_tracker("x")
    assert validator.validate_ticket_confirmation("kirim", dispatcher, tracker, {}) == {
        "ticket_confirmation": "kirim"
    }
    assert validator.validate_ticket_confirmation("Kirim Tiket", dispatcher, tracker, {}) == {
        "ticket_confirmation": "kirim"
    }
    # A bare "ubah" keeps every value and waits for the field (see the tests below).
    edit = validator.validate_ticket_confirmation("ubah", dispatcher, tracker, {})
    assert edit == {"ticket_confirmation": "ubah", "ticket_edit_field": None}
    assert validator.validate_ticket_confirmation("hmm", dispatcher, tracker, {}) == {
        "ticket_confirmation": None
    }
    assert responses(dispatcher) == ["utter_invalid_ticket_confirmation"]


# --- "Ubah" at the summary: change one field, keep the others ----------------------------

FIELD_SLOTS = {
    "subject": "ticket_subject",
    "chronology": "ticket_chronology",
    "attachment": "ticket_attachment",
    "email": "ticket_email",
}


def review_tracker(
    text: str,
    *,
    intent: str = "inform",
    candidates: dict[str, Any],
    slots: dict[str, Any] | None = None,
    requested: str = "ticket_confirmation",
) -> Tracker:
    """The ticket form after the user answered `requested` with `text` (its slot candidates
    are the last events, as Rasa's FormAction sends them to the validator)."""
    values = {
        **TICKET_SLOTS,
        "ticket_confirmation": None,
        **(slots or {}),
        **candidates,
        "requested_slot": requested,
    }
    events: list[dict[str, Any]] = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {}},
    ]
    events.extend({"event": "slot", "name": k, "value": v} for k, v in candidates.items())
    return make_tracker(text, intent=intent, slots=values, active_loop="ticket_form", events=events)


def asked_next(tracker: Tracker, events: list[dict[str, Any]]) -> str | None:
    """The slot the form asks next: the validator's `requested_slot`, else what Rasa's
    FormAction picks (the first empty slot of the domain form, in order)."""
    updates = slot_events(events)
    if "requested_slot" in updates:
        return updates["requested_slot"]
    values = {**tracker.slots, **updates}
    required = domain_dict()["forms"]["ticket_form"]["required_slots"]
    return next((slot for slot in required if values.get(slot) is None), None)


@pytest.mark.parametrize(
    ("text", "intent", "candidate"),
    [
        ("/deny", "deny", "ubah"),  # the "Ubah" button
        ("ubah", "deny", "ubah"),
        ("Ubah", "inform", "Ubah"),
        ("ganti", "inform", "ganti"),
        ("ada yang salah", "deny", "ubah"),
        ("tidak sesuai", "deny", "ubah"),
        ("mau edit dulu", "inform", "mau edit dulu"),
    ],
)
async def test_ubah_asks_which_field_and_keeps_every_value(dispatcher, text, intent, candidate):
    tracker = review_tracker(text, intent=intent, candidates={"ticket_confirmation": candidate})

    events = await ValidateTicketForm().run(dispatcher, tracker, domain_dict())

    # No field is cleared: the form asks which one (utter_ask_ticket_edit_field).
    assert slot_events(events) == {"ticket_confirmation": "ubah", "ticket_edit_field": None}
    assert asked_next(tracker, events) == "ticket_edit_field"
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("text", "intent", "candidate", "field"),
    [
        ("ubah email", "deny", "ubah", "email"),
        ("ubah email", "inform", "ubah email", "email"),
        ("ganti subjek", "inform", "ganti subjek", "subject"),
        ("ganti perihalnya", "inform", "ganti perihalnya", "subject"),
        ("emailnya salah", "deny", "ubah", "email"),
        ("ya, ganti kronologi", "affirm", "kirim", "chronology"),
        ("lampiran mau diubah", "inform", "lampiran mau diubah", "attachment"),
        ("ubah imel sy", "inform", "ubah imel sy", "email"),
        ("kronologinya kurang lengkap", "inform", "kronologinya kurang lengkap", "chronology"),
    ],
)
async def test_ubah_naming_a_field_clears_only_that_field(
    dispatcher, text, intent, candidate, field
):
    tracker = review_tracker(text, intent=intent, candidates={"ticket_confirmation": candidate})

    events = await ValidateTicketForm().run(dispatcher, tracker, domain_dict())

    slot = FIELD_SLOTS[field]
    assert slot_events(events) == {
        slot: None,
        "ticket_edit_field": field,
        "ticket_confirmation": None,
        "requested_slot": slot,
    }
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("answer", "intent", "field"),
    [
        ("subjek", "inform", "subject"),  # the buttons' payloads
        ("kronologi", "inform", "chronology"),
        ("lampiran", "inform", "attachment"),
        ("email", "inform", "email"),
        ("Subjek", "nlu_fallback", "subject"),
        ("judul", "inform", "subject"),
        ("2", "menu_select", "chronology"),
        ("yang lampirannya", "inform", "attachment"),
        ("e-mail sy", "inform", "email"),
        ("kronolgi", "inform", "chronology"),  # a typo
    ],
)
async def test_the_chosen_field_alone_is_asked_again(dispatcher, answer, intent, field):
    tracker = review_tracker(
        answer,
        intent=intent,
        candidates={"ticket_edit_field": answer},
        slots={"ticket_confirmation": "ubah"},
        requested="ticket_edit_field",
    )

    events = await ValidateTicketForm().run(dispatcher, tracker, domain_dict())

    slot = FIELD_SLOTS[field]
    assert slot_events(events) == {
        slot: None,
        "ticket_edit_field": field,
        "ticket_confirmation": None,
        "requested_slot": slot,
    }
    assert dispatcher.messages == []


async def test_semua_asks_every_field_again(dispatcher):
    tracker = review_tracker(
        "semua",
        candidates={"ticket_edit_field": "semua"},
        slots={"ticket_confirmation": "ubah"},
        requested="ticket_edit_field",
    )

    events = await ValidateTicketForm().run(dispatcher, tracker, domain_dict())

    assert slot_events(events) == {
        **{slot: None for slot in FIELD_SLOTS.values()},
        "ticket_edit_field": "all",
        "ticket_confirmation": None,
        "requested_slot": "ticket_subject",
    }


async def test_an_unknown_field_is_re_asked(dispatcher):
    tracker = review_tracker(
        "hmm bingung",
        candidates={"ticket_edit_field": "hmm bingung"},
        slots={"ticket_confirmation": "ubah"},
        requested="ticket_edit_field",
    )

    events = await ValidateTicketForm().run(dispatcher, tracker, domain_dict())

    assert slot_events(events) == {"ticket_edit_field": None}
    assert asked_next(tracker, events) == "ticket_edit_field"
    assert responses(dispatcher) == ["utter_invalid_ticket_edit_field"]


@pytest.mark.parametrize("answer", ["tidak ada", "gak ada", "sudah benar"])
async def test_nothing_to_change_shows_the_summary_again(dispatcher, answer):
    tracker = review_tracker(
        answer,
        candidates={"ticket_edit_field": answer},
        slots={"ticket_confirmation": "ubah"},
        requested="ticket_edit_field",
    )

    events = await ValidateTicketForm().run(dispatcher, tracker, domain_dict())

    assert slot_events(events) == {
        "ticket_edit_field": None,
        "ticket_confirmation": None,
        "requested_slot": "ticket_confirmation",
    }
    assert dispatcher.messages == []


async def test_after_the_change_the_summary_shows_the_kept_values(dispatcher):
    tracker = review_tracker(
        "siti@contoh.go.id",
        candidates={"ticket_email": "siti@contoh.go.id"},
        slots={"ticket_email": None, "ticket_edit_field": "email"},
        requested="ticket_email",
    )

    events = await ValidateTicketForm().run(dispatcher, tracker, domain_dict())

    assert slot_events(events) == {
        "ticket_email": "siti@contoh.go.id",
        "requested_slot": "ticket_confirmation",
    }
    # The summary (utter_ask_ticket_confirmation) reads the other values, untouched.
    assert {name: tracker.slots[name] for name in FIELD_SLOTS.values()} == {
        **{name: TICKET_SLOTS[name] for name in FIELD_SLOTS.values()},
        "ticket_email": "siti@contoh.go.id",
    }


async def test_send_at_the_summary_completes_the_form(dispatcher):
    tracker = review_tracker(
        "/affirm", intent="affirm", candidates={"ticket_confirmation": "kirim"}
    )

    events = await ValidateTicketForm().run(dispatcher, tracker, domain_dict())

    assert slot_events(events) == {"ticket_confirmation": "kirim", "requested_slot": None}


def test_edit_question_buttons_name_each_field():
    """The buttons of utter_ask_ticket_edit_field choose the field their title says."""
    from helpdesk.conversation.keywords import ticket_fields_of
    from tests.actions.test_service_forms import _domain_files

    [variant] = _domain_files()["responses"]["utter_ask_ticket_edit_field"]
    chosen = {b["title"]: ticket_fields_of(b["payload"]) for b in variant["buttons"]}
    assert chosen == {
        "Subjek": ("subject",),
        "Kronologi": ("chronology",),
        "Lampiran": ("attachment",),
        "Email": ("email",),
    }


# --- validate_ticket_status_form ------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("20260414-DBKSWU", "20260414-DBKSWU"),
        ("20260414 dbkswu", "20260414-DBKSWU"),
        ("tiket saya 20260414-dbkswu", "20260414-DBKSWU"),
        ("12345", None),
        ("20261340-ABCDEF", None),
    ],
)
def test_ticket_id_is_normalised_or_re_asked(dispatcher, typed, expected):
    result = ValidateTicketStatusForm().validate_ticket_id(typed, dispatcher, make_tracker(), {})
    assert result == {"ticket_id": expected}
    if expected is None:
        assert responses(dispatcher) == ["utter_invalid_ticket_id"]
        assert dispatcher.messages[0]["value"] == typed


# --- action_create_ticket -------------------------------------------------------------


async def test_create_ticket_stores_and_replies_with_id(services, dispatcher):
    tracker = make_tracker(
        "/affirm",
        intent="affirm",
        slots={**TICKET_SLOTS, "session_started_metadata": {"channel": "whatsapp"}},
    )

    events = await ActionCreateTicket(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ticket_created"]
    ticket_id = dispatcher.messages[0]["ticket_number"]
    assert re.fullmatch(r"\d{8}-[A-Z]{6}", ticket_id)
    assert slot_events(events) == {name: None for name in FORM_SLOTS}
    info = services.tickets.get_status(ticket_id)
    assert info is not None
    assert (info.subject, info.email, info.attachment) == (
        "SP2D belum cair",
        "budi@contoh.go.id",
        None,
    )


async def test_a_ticket_after_an_faq_answer_goes_to_the_division_of_its_category(
    services, dispatcher
):
    from helpdesk.storage.divisions import DivisionRepository

    sakti = DivisionRepository(services.session_factory).create("Tim SAKTI", "SAKTI")
    tracker = make_tracker(
        "/affirm",
        intent="affirm",
        slots={**TICKET_SLOTS, "faq_id": "sakti-reset-password"},
    )

    await ActionCreateTicket(services).run(dispatcher, tracker, {})

    ticket_id = dispatcher.messages[0]["ticket_number"]
    assert services.ticket_repository.get(ticket_id).division_id == sakti.id


async def test_create_ticket_failure_keeps_the_fields(services, dispatcher, monkeypatch):
    monkeypatch.setattr(type(services), "tickets", failing_property(RuntimeError("db locked")))
    tracker = make_tracker("/affirm", intent="affirm", slots=TICKET_SLOTS)

    events = await ActionCreateTicket(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ticket_create_failed"]
    assert slot_events(events) == {"ticket_confirmation": None}


async def test_create_ticket_without_confirmation_creates_nothing(services, dispatcher):
    slots = {**TICKET_SLOTS, "ticket_confirmation": None}

    await ActionCreateTicket(services).run(dispatcher, make_tracker(slots=slots), {})

    assert responses(dispatcher) == ["utter_cancelled"]


def _ticket_count(session_factory) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


async def test_a_ticket_being_changed_is_not_created(services, session_factory, dispatcher):
    slots = {**TICKET_SLOTS, "ticket_confirmation": "ubah", "ticket_edit_field": None}

    events = await ActionCreateTicket(services).run(dispatcher, make_tracker(slots=slots), {})

    assert _ticket_count(session_factory) == 0
    assert slot_events(events) == {name: None for name in FORM_SLOTS}


async def test_changing_a_field_then_sending_creates_one_ticket(
    services, session_factory, dispatcher
):
    validator = ValidateTicketForm()
    # "ubah email" at the summary, the new address, then "Kirim Tiket".
    first = review_tracker("ubah email", intent="deny", candidates={"ticket_confirmation": "ubah"})
    await validator.run(dispatcher, first, domain_dict())
    second = review_tracker(
        "siti@contoh.go.id",
        candidates={"ticket_email": "siti@contoh.go.id"},
        slots={**first.slots},
        requested="ticket_email",
    )
    await validator.run(dispatcher, second, domain_dict())
    third = review_tracker(
        "/affirm",
        intent="affirm",
        candidates={"ticket_confirmation": "kirim"},
        slots={**second.slots},
    )
    await validator.run(dispatcher, third, domain_dict())

    create = ActionCreateTicket(services)
    events = await create.run(dispatcher, make_tracker(slots=third.slots), {})
    # The slots are cleared, so the same "Kirim Tiket" pressed twice creates nothing more.
    cleared = {**third.slots, **slot_events(events)}
    await create.run(dispatcher, make_tracker(slots=cleared), {})

    assert _ticket_count(session_factory) == 1
    ticket_id = dispatcher.messages[0]["ticket_number"]
    info = services.tickets.get_status(ticket_id)
    assert info is not None
    assert (info.subject, info.email) == ("SP2D belum cair", "siti@contoh.go.id")
    assert responses(dispatcher) == ["utter_ticket_created", "utter_cancelled"]


# --- action_check_ticket_status -------------------------------------------------------


def _create(services) -> str:
    draft = TicketDraft("Tidak bisa login SAKTI", "Sejak kemarin muncul pesan error.", "a@b.id")
    return services.tickets.create(draft).id


async def test_status_of_a_known_ticket(services, dispatcher):
    ticket_id = _create(services)
    tracker = make_tracker(slots={"ticket_id": ticket_id})

    events = await ActionCheckTicketStatus(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ticket_status"]
    message = dispatcher.messages[0]
    assert message["ticket_number"] == ticket_id
    assert message["status_label"] == "Diterima, menunggu tindak lanjut"
    assert message["subject"] == "Tidak bisa login SAKTI"
    assert re.fullmatch(
        r"\d{1,2} (Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober"
        r"|November|Desember) \d{4} pukul \d\d\.\d\d WIB",
        message["updated_at"],
    )
    assert slot_events(events) == {"ticket_id": None}


async def test_status_shows_the_public_reply(services, dispatcher):
    ticket_id = _create(services)
    services.tickets.update_status(ticket_id, "resolved", "Password sudah direset.")

    await ActionCheckTicketStatus(services).run(
        dispatcher, make_tracker(slots={"ticket_id": ticket_id}), {}
    )

    assert responses(dispatcher) == ["utter_ticket_status", "utter_ticket_public_reply"]
    assert dispatcher.messages[0]["status_label"] == "Selesai"
    assert dispatcher.messages[1]["public_reply"] == "Password sudah direset."


async def test_unknown_ticket_gets_a_clear_answer(services, dispatcher):
    tracker = make_tracker(slots={"ticket_id": "20260414-ZZZZZZ"})

    await ActionCheckTicketStatus(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ticket_not_found"]
    assert dispatcher.messages[0]["ticket_number"] == "20260414-ZZZZZZ"


async def test_malformed_slot_value_is_explained(services, dispatcher):
    await ActionCheckTicketStatus(services).run(
        dispatcher, make_tracker(slots={"ticket_id": "abc"}), {}
    )

    assert responses(dispatcher) == ["utter_invalid_ticket_id"]


async def test_status_database_failure_is_polite(services, dispatcher, monkeypatch):
    monkeypatch.setattr(type(services), "tickets", failing_property(RuntimeError("db down")))

    await ActionCheckTicketStatus(services).run(
        dispatcher, make_tracker(slots={"ticket_id": "20260414-DBKSWU"}), {}
    )

    assert responses(dispatcher) == ["utter_technical_problem"]


@pytest.mark.parametrize(
    ("status", "label"),
    [
        ("open", "Diterima, menunggu tindak lanjut"),
        ("in_progress", "Sedang diproses"),
        ("resolved", "Selesai"),
        ("closed", "Ditutup"),
    ],
)
async def test_status_set_in_the_agent_desk_is_told_in_indonesian(
    services, dispatcher, status, label
):
    """The desk changes a ticket through TicketRepository.set_status (status, public reply)."""
    ticket_id = _create(services)
    services.ticket_repository.set_status(ticket_id, status, f"Balasan petugas ({status}).")

    await ActionCheckTicketStatus(services).run(
        dispatcher, make_tracker(slots={"ticket_id": ticket_id.lower()}), {}
    )

    assert responses(dispatcher) == ["utter_ticket_status", "utter_ticket_public_reply"]
    assert dispatcher.messages[0]["status_label"] == label
    assert dispatcher.messages[1]["public_reply"] == f"Balasan petugas ({status})."


async def test_status_without_a_public_reply_says_only_the_status(services, dispatcher):
    ticket_id = _create(services)
    services.ticket_repository.set_status(ticket_id, "in_progress")

    await ActionCheckTicketStatus(services).run(
        dispatcher, make_tracker(slots={"ticket_id": ticket_id}), {}
    )

    assert responses(dispatcher) == ["utter_ticket_status"]
    assert dispatcher.messages[0]["status_label"] == "Sedang diproses"


# --- one ticket per form submission (a "Kirim" replayed after a crash) ------------------


def form_run_tracker(started_at: float, sender_id: str = "6281234567890") -> Tracker:
    """The tracker at "Kirim": the form was activated at `started_at`, then submitted."""
    events = [
        {"event": "action", "name": "action_session_start", "timestamp": started_at - 60},
        {"event": "user", "text": "buat tiket", "timestamp": started_at - 0.1},
        {"event": "action", "name": "ticket_form", "timestamp": started_at},
        {"event": "active_loop", "name": "ticket_form", "timestamp": started_at},
        {"event": "user", "text": "/affirm", "timestamp": started_at + 90},
        {"event": "active_loop", "name": None, "timestamp": started_at + 90.2},
    ]
    return make_tracker(
        "/affirm", intent="affirm", slots=TICKET_SLOTS, events=events, sender_id=sender_id
    )


async def test_a_replayed_submission_gets_the_same_ticket_id(services, session_factory):
    """Rasa died after the ticket was stored, before it saved the conversation: the
    citizen's next "Kirim" runs the action on the same tracker again."""
    tracker = form_run_tracker(1776146400.123456)
    first, again = CollectingDispatcher(), CollectingDispatcher()

    await ActionCreateTicket(services).run(first, tracker, {})
    await ActionCreateTicket(services).run(again, tracker, {})

    assert responses(first) == responses(again) == ["utter_ticket_created"]
    assert first.messages[0]["ticket_number"] == again.messages[0]["ticket_number"]
    assert _ticket_count(session_factory) == 1


async def test_a_second_form_run_makes_a_second_ticket(services, session_factory):
    first, second = CollectingDispatcher(), CollectingDispatcher()

    await ActionCreateTicket(services).run(first, form_run_tracker(1776146400.5), {})
    await ActionCreateTicket(services).run(second, form_run_tracker(1776147000.25), {})

    assert first.messages[0]["ticket_number"] != second.messages[0]["ticket_number"]
    assert _ticket_count(session_factory) == 2


async def test_the_same_form_moment_of_another_conversation_is_its_own_ticket(
    services, session_factory
):
    first, other = CollectingDispatcher(), CollectingDispatcher()

    await ActionCreateTicket(services).run(first, form_run_tracker(1776146400.5), {})
    await ActionCreateTicket(services).run(
        other, form_run_tracker(1776146400.5, sender_id="6285700011122"), {}
    )

    assert first.messages[0]["ticket_number"] != other.messages[0]["ticket_number"]
    assert _ticket_count(session_factory) == 2


def test_form_started_at_is_the_latest_activation_of_the_ticket_form():
    tracker = form_run_tracker(1776146400.5)
    tracker.events[:0] = [{"event": "active_loop", "name": "ticket_form", "timestamp": 1.0}]
    tracker.events.append({"event": "active_loop", "name": "sp2d_form", "timestamp": 9e9})

    assert form_started_at(tracker, "ticket_form") == 1776146400.5
    assert form_started_at(tracker, "sp2d_form") == 9e9
    assert form_started_at(make_tracker("x"), "ticket_form") is None


async def test_a_ticket_carries_what_a_guided_flow_collected_before_it(services, dispatcher):
    tracker = make_tracker("/affirm", intent="affirm", slots=TICKET_SLOTS)
    services.flow_submissions.add(
        tracker.sender_id,
        flow_id="konsultasi",
        flow_title="Konsultasi Rumah Swadaya",
        data={"nama": "Siti Aminah", "hp": "6281234567890"},
        outcome="ticket",
    )

    await ActionCreateTicket(services).run(dispatcher, tracker, {})

    record = services.ticket_repository.get(dispatcher.messages[0]["ticket_number"])
    assert record.chronology.startswith(TICKET_SLOTS["ticket_chronology"])
    assert record.chronology.endswith(
        "Data dari alur \u201cKonsultasi Rumah Swadaya\u201d:\nnama: Siti Aminah\nhp: 6281234567890"
    )
