"""Tests of action_answer_faq and action_faq_rejected."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from actions.answer_faq import ActionAnswerFaq
from actions.faq_rejected import ActionFaqRejected
from helpdesk.knowledge.query import QUERY_EMBEDDING_KEY, QueryEmbedding
from helpdesk.knowledge.retriever import Answer, Match
from helpdesk.storage.handoffs import HandoffRepository
from helpdesk.storage.models import QuestionLog
from tests.actions.conftest import (
    FAQS,
    Broken,
    failing_property,
    make_tracker,
    responses,
    slot_events,
)

WITA = ZoneInfo("Asia/Makassar")
#: Saturday (closed) and Thursday 10.00 (open) under the shipped office hours.
CLOSED = datetime(2026, 11, 21, 10, 0, tzinfo=WITA)
OPEN = datetime(2026, 11, 19, 10, 0, tzinfo=WITA)


def rejected(services, at: datetime = CLOSED) -> ActionFaqRejected:
    return ActionFaqRejected(services, clock=lambda: at)


def _logged(services) -> list[QuestionLog]:
    with services.session_factory() as session:
        return list(session.execute(select(QuestionLog).order_by(QuestionLog.id)).scalars())


async def test_answers_with_disclaimer_and_feedback_question(services, dispatcher):
    tracker = make_tracker("gmn cr reset pw sakti min")

    events = await ActionAnswerFaq(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == [
        "utter_faq_answer",
        "utter_faq_disclaimer",
        "utter_ask_faq_feedback",
    ]
    assert dispatcher.messages[0]["answer"] == FAQS[0].answer
    assert slot_events(events) == {
        "awaiting_feedback": True,
        "faq_id": "sakti-reset-password",
        "last_question": "gmn cr reset pw sakti min",
    }
    (row,) = _logged(services)
    assert (row.question, row.answered, row.faq_id) == (
        "gmn cr reset pw sakti min",
        True,
        "sakti-reset-password",
    )
    assert row.score is not None and row.score > 0.5


async def test_declines_out_of_scope_question_and_offers_ticket(services, dispatcher):
    tracker = make_tracker("resep rendang padang yang enak", intent="nlu_fallback")

    events = await ActionAnswerFaq(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_faq_no_answer"]
    assert slot_events(events)["awaiting_feedback"] is False
    assert slot_events(events)["faq_id"] is None
    (row,) = _logged(services)
    assert row.answered is False and row.faq_id is None


async def test_message_without_content_asks_for_the_question(services, dispatcher):
    events = await ActionAnswerFaq(services).run(dispatcher, make_tracker("mau tanya dong"), {})

    assert responses(dispatcher) == ["utter_ask_type_question"]
    assert slot_events(events) == {"awaiting_feedback": False}
    assert _logged(services) == []


async def test_button_payload_is_not_treated_as_a_question(services, dispatcher):
    await ActionAnswerFaq(services).run(dispatcher, make_tracker("/ask_question"), {})

    assert responses(dispatcher) == ["utter_ask_type_question"]
    assert _logged(services) == []


class _StubRetriever:
    def __init__(self, answer: Answer) -> None:
        self._answer = answer
        self.embeddings: list[Any] = []

    def answer(self, text: str, embedding: Any = None) -> Answer:
        self.embeddings.append(embedding)
        return self._answer


async def test_the_question_embedding_of_the_nlu_pipeline_reaches_the_retriever(
    services, dispatcher
):
    best = Match(FAQS[0], 0.9)
    stub = _StubRetriever(Answer("sakti", best, [], [best], "answered"))
    services._retriever = stub
    vector = np.arange(4, dtype=np.float32)
    tracker = make_tracker("sakti saya terkunci")
    tracker.latest_message[QUERY_EMBEDDING_KEY] = QueryEmbedding(
        "m", "sakti saya terkunci", vector
    ).to_json()

    await ActionAnswerFaq(services).run(dispatcher, tracker, {})
    await ActionAnswerFaq(services).run(dispatcher, make_tracker("sakti saya terkunci"), {})

    first, second = stub.embeddings
    assert first.model == "m" and first.text == "sakti saya terkunci"
    np.testing.assert_array_equal(first.vector, vector)
    assert second is None


async def test_related_questions_become_buttons_that_name_their_faq(services, dispatcher):
    best, second, third = (Match(FAQS[0], 0.9), Match(FAQS[1], 0.85), Match(FAQS[2], 0.8))
    services._retriever = _StubRetriever(
        Answer("sakti", best, [second, third], [best, second, third], "answered")
    )

    await ActionAnswerFaq(services).run(dispatcher, make_tracker("sakti password user"), {})

    assert responses(dispatcher) == [
        "utter_faq_answer",
        "utter_faq_disclaimer",
        "utter_faq_related",
        "utter_ask_faq_feedback",
    ]
    buttons = dispatcher.messages[2]["buttons"]
    assert buttons == [
        {"title": FAQS[1].question, "payload": f'/ask_question{{"faq_id":"{FAQS[1].id}"}}'},
        {"title": FAQS[2].question, "payload": f'/ask_question{{"faq_id":"{FAQS[2].id}"}}'},
    ]


async def test_a_related_question_button_answers_the_faq_it_names(services, dispatcher):
    # The payload's text would read as a lookup request; the button names its FAQ instead.
    tracker = make_tracker(
        f'/ask_question{{"faq_id":"{FAQS[1].id}"}}',
        entities=[{"entity": "faq_id", "value": FAQS[1].id}],
    )

    events = await ActionAnswerFaq(services).run(dispatcher, tracker, {})

    assert responses(dispatcher)[0] == "utter_faq_answer"
    assert dispatcher.messages[0]["answer"] == FAQS[1].answer.strip()
    assert slot_events(events)["faq_id"] == FAQS[1].id
    (row,) = _logged(services)
    assert (row.question, row.faq_id) == (FAQS[1].question, FAQS[1].id)


async def test_a_button_naming_a_removed_faq_asks_for_the_question(services, dispatcher):
    tracker = make_tracker(
        '/ask_question{"faq_id":"tidak-ada-lagi"}',
        entities=[{"entity": "faq_id", "value": "tidak-ada-lagi"}],
    )

    await ActionAnswerFaq(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ask_type_question"]


async def test_knowledge_base_failure_gives_polite_error(services, dispatcher):
    services._retriever = Broken(FileNotFoundError("index missing"))

    events = await ActionAnswerFaq(services).run(dispatcher, make_tracker("apa itu sp2d"), {})

    assert responses(dispatcher) == ["utter_technical_problem"]
    assert slot_events(events) == {"awaiting_feedback": False}


async def test_question_log_failure_still_answers(services, dispatcher, monkeypatch):
    monkeypatch.setattr(type(services), "questions", property(lambda self: Broken()))

    await ActionAnswerFaq(services).run(dispatcher, make_tracker("apa itu sp2d"), {})

    assert responses(dispatcher)[0] == "utter_faq_answer"


async def test_rejected_answer_is_logged_as_unanswered(services, dispatcher):
    tracker = make_tracker(
        "tidak",
        intent="deny",
        slots={"last_question": "apa itu sp2d", "faq_id": "sp2d-pengertian"},
    )

    events = await rejected(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_faq_rejected"]
    assert slot_events(events) == {"awaiting_feedback": False}
    (row,) = _logged(services)
    assert (row.question, row.answered, row.faq_id) == ("apa itu sp2d", False, "sp2d-pengertian")


async def test_rejected_answer_survives_a_database_failure(services, dispatcher, monkeypatch):
    monkeypatch.setattr(type(services), "questions", property(lambda self: Broken()))
    tracker = make_tracker("tidak", intent="deny", slots={"last_question": "apa itu sp2d"})

    await rejected(services).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_faq_rejected"]


# --- "Tidak" in office hours: an officer takes over ----------------------------------------


async def test_rejected_in_office_hours_joins_the_agents_queue(services, dispatcher):
    tracker = make_tracker(
        "tidak",
        intent="deny",
        slots={"last_question": "lupa password sakti", "faq_id": "sakti-reset-password"},
    )

    events = await rejected(services, OPEN).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_faq_rejected_handoff", "utter_handoff_queued_busy"]
    assert {"event": "pause", "timestamp": None} in events
    assert slot_events(events) == {
        "awaiting_feedback": False,
        "handoff_route": "queue",
        "handoff_waiting": True,
    }
    record = services.handoffs.open_for("6281234567890")
    assert (record.question, record.category) == ("lupa password sakti", "SAKTI")
    # Still recorded as unanswered for the knowledge managers.
    (row,) = _logged(services)
    assert (row.question, row.answered) == ("lupa password sakti", False)


async def test_rejected_in_office_hours_with_a_broken_queue_offers_a_ticket(
    services, dispatcher, monkeypatch
):
    def locked(*args, **kwargs):
        raise OperationalError("INSERT INTO handoff", {}, Exception("database is locked"))

    monkeypatch.setattr(HandoffRepository, "open", locked)
    tracker = make_tracker("tidak", intent="deny", slots={"last_question": "apa itu sp2d"})

    events = await rejected(services, OPEN).run(dispatcher, tracker, {})

    assert responses(dispatcher) == [
        "utter_faq_rejected_handoff",
        "utter_technical_problem",
        "utter_handoff_offer_ticket",
    ]
    assert "pause" not in [e["event"] for e in events]
    assert slot_events(events)["awaiting_feedback"] is False


@pytest.mark.parametrize("at", [CLOSED, datetime(2026, 8, 17, 10, 0, tzinfo=WITA)])
async def test_rejected_outside_office_hours_offers_rephrasing_or_a_ticket(
    services, dispatcher, at
):
    tracker = make_tracker("tidak", intent="deny", slots={"last_question": "apa itu sp2d"})

    events = await rejected(services, at).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_faq_rejected"]
    assert slot_events(events) == {"awaiting_feedback": False}
    assert services.handoffs.open_for("6281234567890") is None


async def test_unreadable_office_hours_keep_the_offline_reply(services, dispatcher, monkeypatch):
    monkeypatch.setattr(type(services), "office_hours", failing_property(ValueError("bad yml")))

    await rejected(services, OPEN).run(
        dispatcher, make_tracker("tidak", intent="deny", slots={"last_question": "x y"}), {}
    )

    assert responses(dispatcher) == ["utter_faq_rejected"]


def faq_outcomes() -> dict[str, float]:
    from prometheus_client import REGISTRY

    return {
        outcome: REGISTRY.get_sample_value("helpdesk_faq_answers_total", {"outcome": outcome})
        for outcome in ("answered", "declined", "empty", "error")
    }


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("gmn cr reset pw sakti min", "answered"),
        ("resep rendang padang yang enak", "declined"),
        ("mau tanya dong", "empty"),
    ],
)
async def test_each_question_is_counted_by_what_was_done(services, dispatcher, text, outcome):
    before = faq_outcomes()

    await ActionAnswerFaq(services).run(dispatcher, make_tracker(text), {})

    after = faq_outcomes()
    assert after[outcome] == before[outcome] + 1
    assert sum(after.values()) == sum(before.values()) + 1  # one outcome per question


async def test_a_knowledge_base_failure_is_counted_as_an_error(services, dispatcher):
    services._retriever = Broken(FileNotFoundError("index missing"))
    before = faq_outcomes()

    await ActionAnswerFaq(services).run(dispatcher, make_tracker("apa itu sp2d"), {})

    assert faq_outcomes()["error"] == before["error"] + 1


async def test_a_menu_items_name_starts_the_item_not_an_answer(services, dispatcher):
    from dataclasses import replace

    from helpdesk.profile import PROFILES_DIR
    from helpdesk.services import Services

    krs = PROFILES_DIR / "krs"
    krs_services = Services(
        replace(services.settings, profile_dir=krs, menu_file=krs / "menu.yml"),
        session_factory=services.session_factory,
        retriever=services.retriever,
    )

    events = await ActionAnswerFaq(krs_services).run(
        dispatcher, make_tracker("Konsultasi Rumah!"), {}
    )

    assert dispatcher.messages == []
    assert events == [{"event": "followup", "timestamp": None, "name": "action_menu_select"}]
    answered = await ActionAnswerFaq(krs_services).run(
        dispatcher, make_tracker("konsultasi rumah tahan gempa bagaimana"), {}
    )
    assert {"event": "followup", "timestamp": None, "name": "action_menu_select"} not in answered
