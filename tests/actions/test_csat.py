"""Tests of validate_csat_form and action_save_csat."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from actions.forms.validate_csat_form import ValidateCsatForm, parse_rating
from actions.save_csat import ActionSaveCsat
from helpdesk.storage.models import CsatRating
from tests.actions.conftest import (
    domain_dict,
    failing_property,
    make_tracker,
    responses,
    slot_events,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4", 4),
        (5, 5),
        ("1 - Sangat Tidak Puas", 1),
        ("empat", 4),
        ("sangat puas", 5),
        ("Sangat tidak puas!", 1),
        ("tidak puas", 2),
        ("kurang puas", 2),
        ("cukup", 3),
        ("puas", 4),
        ("bintang 5", 5),
        ("6", None),
        ("0", None),
        ("entahlah", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_rating(value, expected):
    assert parse_rating(value) == expected


def test_validator_accepts_words_and_rejects_with_reason(dispatcher):
    validator = ValidateCsatForm()
    tracker = make_tracker("sangat puas", intent="inform")

    assert validator.validate_csat_rating("sangat puas", dispatcher, tracker, {}) == {
        "csat_rating": "5"
    }
    assert dispatcher.messages == []

    assert validator.validate_csat_rating("sepuluh", dispatcher, tracker, {}) == {
        "csat_rating": None
    }
    assert responses(dispatcher) == ["utter_csat_invalid"]
    assert dispatcher.messages[0]["value"] == "sepuluh"


async def test_validator_run_through_the_form_domain(dispatcher):
    tracker = make_tracker(
        "7",
        intent="menu_select",
        slots={"csat_rating": "7", "requested_slot": "csat_rating"},
        active_loop="csat_form",
        events=[{"event": "slot", "name": "csat_rating", "value": "7"}],
    )

    events = await ValidateCsatForm().run(dispatcher, tracker, domain_dict())

    assert slot_events(events) == {"csat_rating": None}
    assert responses(dispatcher) == ["utter_csat_invalid"]


async def test_save_csat_stores_rating_with_question_and_faq(services, dispatcher):
    tracker = make_tracker(
        "4",
        intent="inform",
        slots={"csat_rating": "4", "last_question": "apa itu sp2d", "faq_id": "sp2d-pengertian"},
    )

    events = await ActionSaveCsat(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_csat_thanks"]
    assert dispatcher.messages[0]["rating_label"] == "4 - Puas"
    assert slot_events(events) == {"csat_rating": None, "awaiting_feedback": False}
    with services.session_factory() as session:
        (row,) = session.execute(select(CsatRating)).scalars()
    assert (row.sender_id, row.rating, row.kind, row.question, row.faq_id) == (
        "6281234567890",
        4,
        "faq",
        "apa itu sp2d",
        "sp2d-pengertian",
    )


async def test_save_csat_database_failure_is_polite(services, dispatcher, monkeypatch):
    monkeypatch.setattr(type(services), "csat", failing_property(RuntimeError("db down")))
    tracker = make_tracker("5", slots={"csat_rating": "5"})

    events = await ActionSaveCsat(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_technical_problem"]
    assert slot_events(events)["csat_rating"] is None


async def test_save_csat_without_rating_does_not_store(services, dispatcher):
    await ActionSaveCsat(services).run(dispatcher, make_tracker("x"), {})

    assert responses(dispatcher) == ["utter_technical_problem"]
    with services.session_factory() as session:
        assert list(session.execute(select(CsatRating)).scalars()) == []
