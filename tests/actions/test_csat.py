"""Tests of validate_csat_form and action_save_csat."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.forms.validate_csat_form import ActionAskCsatRating, ValidateCsatForm, parse_rating
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


async def test_one_run_of_the_rating_form_stores_one_rating_however_often_it_runs(services):
    """Rasa died after the action stored the rating and before it saved the turn: the turn
    runs again on the same tracker (a re-delivery, a REST client sending again); the citizen
    is thanked again, the rating is not stored twice. A later run of the form is a new rating.
    """

    def run_of_form(activated_at: float, rating: str) -> Any:
        tracker = make_tracker(rating, intent="inform", slots={"csat_rating": rating})
        tracker.events[:0] = [
            {"event": "active_loop", "name": "csat_form", "timestamp": activated_at}
        ]
        return tracker

    for tracker in (run_of_form(100.5, "5"), run_of_form(100.5, "5"), run_of_form(200.25, "3")):
        dispatcher = CollectingDispatcher()
        await ActionSaveCsat(services).run(dispatcher, tracker, {})
        assert responses(dispatcher) == ["utter_csat_thanks"]
    with services.session_factory() as session:
        rows = list(session.execute(select(CsatRating.rating)).scalars())
    assert sorted(rows) == [3, 5]


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


# --- agent ratings (after a handoff) -----------------------------------------------------


async def test_save_csat_stores_an_agent_rating_with_its_handoff(services, dispatcher):
    handoff_id = services.handoff.request("6281234567890").handoff.id
    tracker = make_tracker(
        "4 - puas",
        intent="inform",
        slots={
            "csat_rating": "4",
            "csat_kind": "agent",
            "handoff_id": str(handoff_id),
            # An FAQ answered before the handoff is not what this rating is about.
            "last_question": "apa itu sp2d",
            "faq_id": "sp2d-pengertian",
        },
    )

    events = await ActionSaveCsat(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_csat_thanks_agent"]
    assert dispatcher.messages[0]["rating_label"] == "4 - Puas"
    assert slot_events(events) == {
        "csat_rating": None,
        "awaiting_feedback": False,
        "csat_kind": None,
        "handoff_id": None,
    }
    with services.session_factory() as session:
        (row,) = session.execute(select(CsatRating)).scalars()
    assert (row.rating, row.kind, row.handoff_id, row.question, row.faq_id) == (
        4,
        "agent",
        handoff_id,
        None,
        None,
    )


@pytest.mark.parametrize(("kept", "stored"), [(7.0, 7), ("7", 7), (None, None), ("x", None)])
async def test_the_handoff_id_slot_is_read_as_text_or_number(services, dispatcher, kept, stored):
    if stored is not None:
        for n in range(stored):
            services.handoff.request(f"62811{n:06d}")  # handoff rows 1..stored exist
    tracker = make_tracker(
        "5", slots={"csat_rating": "5", "csat_kind": "agent", "handoff_id": kept}
    )

    await ActionSaveCsat(services).run(dispatcher, tracker, {})

    with services.session_factory() as session:
        (row,) = session.execute(select(CsatRating)).scalars()
    assert (row.kind, row.handoff_id) == ("agent", stored)


async def test_an_unknown_kind_is_saved_as_an_faq_rating(services, dispatcher):
    tracker = make_tracker("5", slots={"csat_rating": "5", "csat_kind": "robot"})

    await ActionSaveCsat(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_csat_thanks"]
    with services.session_factory() as session:
        (row,) = session.execute(select(CsatRating)).scalars()
    assert row.kind == "faq"


@pytest.mark.parametrize(
    ("kind", "asked"),
    [("agent", "utter_ask_agent_rating"), (None, "utter_ask_csat_rating")],
)
async def test_the_form_asks_about_the_agent_or_the_answer(dispatcher, kind, asked):
    tracker = make_tracker(
        "entahlah",
        slots={"csat_kind": kind, "requested_slot": "csat_rating"},
        active_loop="csat_form",
    )

    assert await ActionAskCsatRating().run(dispatcher, tracker, {}) == []
    assert responses(dispatcher) == [asked]


async def test_an_invalid_agent_rating_is_explained_then_asked_again(dispatcher):
    """The form's turn on "entahlah": the validator explains, the ask action re-asks."""
    tracker = make_tracker(
        "entahlah",
        intent="ask_question",
        slots={"csat_rating": "entahlah", "csat_kind": "agent", "requested_slot": "csat_rating"},
        active_loop="csat_form",
        events=[{"event": "slot", "name": "csat_rating", "value": "entahlah"}],
    )

    events = await ValidateCsatForm().run(dispatcher, tracker, domain_dict())
    assert slot_events(events) == {"csat_rating": None}
    await ActionAskCsatRating().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_csat_invalid", "utter_ask_agent_rating"]


def test_the_form_asks_through_the_custom_action():
    """Rasa prefers action_ask_<slot> to utter_ask_<slot>: both must be in the domain."""
    domain = domain_dict()
    assert "action_ask_csat_rating" in domain["actions"]
    assert domain["forms"]["csat_form"]["required_slots"] == ["csat_rating"]
    thanks = domain["responses"]["utter_csat_thanks_agent"][0]["text"]
    assert "{rating_label}" in thanks and "petugas" in thanks
