"""Tests of the ticket form validator, action_create_ticket and the status check."""

from __future__ import annotations

import re

import pytest

from actions.check_ticket_status import ActionCheckTicketStatus
from actions.create_ticket import ActionCreateTicket
from actions.forms.validate_ticket_form import ValidateTicketForm
from actions.forms.validate_ticket_status_form import ValidateTicketStatusForm
from helpdesk.tickets import TicketDraft
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
    edit = validator.validate_ticket_confirmation("ubah", dispatcher, tracker, {})
    assert edit == {name: None for name in TICKET_SLOTS}
    assert validator.validate_ticket_confirmation("hmm", dispatcher, tracker, {}) == {
        "ticket_confirmation": None
    }
    assert responses(dispatcher) == ["utter_ticket_edit", "utter_invalid_ticket_confirmation"]


async def test_edit_through_the_form_clears_every_field(dispatcher):
    slots = {**TICKET_SLOTS, "ticket_confirmation": "ubah", "requested_slot": "ticket_confirmation"}
    tracker = make_tracker(
        "/deny",
        intent="deny",
        slots=slots,
        active_loop="ticket_form",
        events=[{"event": "slot", "name": "ticket_confirmation", "value": "ubah"}],
    )

    events = await ValidateTicketForm().run(dispatcher, tracker, domain_dict())

    assert slot_events(events) == {name: None for name in TICKET_SLOTS}
    assert responses(dispatcher) == ["utter_ticket_edit"]


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
    assert slot_events(events) == {name: None for name in TICKET_SLOTS}
    info = services.tickets.get_status(ticket_id)
    assert info is not None
    assert (info.subject, info.email, info.attachment) == (
        "SP2D belum cair",
        "budi@contoh.go.id",
        None,
    )


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
