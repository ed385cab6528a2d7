"""The guided flow actions on the KRS profile's consultation: started from the menu, asked
node by node (buttons and a numbered list), walked with validated replies, "kembali",
"menu", and ended with an FAQ answer or the menu."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.flow import (
    ActionAskFlowReply,
    ActionFlowEnd,
    ValidateFlowForm,
    choice_payload,
)
from actions.menu_select import ActionMenuSelect
from helpdesk.conversation.flow_files import load_flows
from helpdesk.conversation.flows import FlowState
from helpdesk.knowledge.loader import load_faqs
from helpdesk.knowledge.retriever import retriever_for_entries
from helpdesk.profile import PROFILES_DIR
from helpdesk.services import Services
from tests.actions.conftest import make_tracker, responses, slot_events
from tests.unit.knowledge.conftest import FakeEmbedder

KRS = PROFILES_DIR / "krs"


@pytest.fixture
def krs(settings, session_factory) -> Services:
    entries = load_faqs(KRS / "faq")
    retriever = retriever_for_entries(entries, FakeEmbedder(), threshold=0.5)
    krs_settings = replace(settings, profile_dir=KRS, menu_file=KRS / "menu.yml")
    return Services(krs_settings, session_factory=session_factory, retriever=retriever)


@pytest.fixture(scope="module")
def konsultasi():
    return load_flows(KRS / "flows.yml")["konsultasi"]


def at(node: str, **data: str) -> dict[str, Any]:
    return FlowState("konsultasi", node, ("nama",), data).to_json()


def reply(
    text: str,
    state: dict[str, Any],
    *,
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
):
    return make_tracker(
        text,
        intent=intent,
        entities=entities or [],
        slots={slots.FLOW_STATE: state, slots.FLOW_REPLY: text, "requested_slot": "flow_reply"},
        active_loop="flow_form",
        events=[{"event": "slot", "name": slots.FLOW_REPLY, "value": text}],
    )


def domain() -> dict[str, Any]:
    return {"forms": {"flow_form": {"required_slots": ["flow_reply"]}}, "slots": {}}


async def test_the_menu_starts_the_flow_at_its_first_question(krs, dispatcher) -> None:
    tracker = make_tracker("1", intent="menu_select", entities=[{"entity": "number", "value": "1"}])

    events = await ActionMenuSelect(krs).run(dispatcher, tracker, {})

    set_ = slot_events(events)
    assert set_[slots.MENU_TARGET] == "flow_form"
    assert FlowState.from_json(set_[slots.FLOW_STATE]).node == "nama"
    assert {"event": "followup", "name": "flow_form"} in [
        {"event": e["event"], "name": e.get("name")} for e in events
    ]


async def test_a_node_with_choices_is_shown_with_buttons_and_numbers(krs, dispatcher) -> None:
    tracker = reply("", at("topik"))

    await ActionAskFlowReply(krs).run(dispatcher, tracker, {})

    (message,) = dispatcher.messages
    assert message["text"].startswith("Silakan pilih topik konsultasi.\n1. Perencanaan Rumah")
    assert [b["payload"] for b in message["buttons"]] == [choice_payload(n) for n in (1, 2, 3)]
    assert json.loads(choice_payload(2)[len("/flow_choice") :]) == {"option": "2"}


async def test_a_bad_phone_is_asked_again_and_a_good_one_moves_on(krs, dispatcher) -> None:
    form = ValidateFlowForm(krs)

    refused = await form.run(dispatcher, reply("12ab", at("hp")), domain())

    assert "081234567890" in dispatcher.messages[0]["text"]
    assert slot_events(refused)[slots.FLOW_REPLY] is None
    dispatcher.messages.clear()
    moved = await form.run(dispatcher, reply("0812 3456 7890", at("hp")), domain())
    state = FlowState.from_json(slot_events(moved)[slots.FLOW_STATE])
    assert state.node == "topik" and state.data["hp"] == "6281234567890"
    assert slot_events(moved)[slots.FLOW_REPLY] is None  # the form asks the next node


async def test_kembali_menu_and_buttons_inside_a_flow(krs, dispatcher) -> None:
    form = ValidateFlowForm(krs)

    went_back = await form.run(dispatcher, reply("kembali", at("topik"), intent="menu"), domain())
    to_menu = await form.run(dispatcher, reply("0", at("topik"), intent="menu"), domain())
    button = await form.run(
        dispatcher,
        reply(
            choice_payload(2),
            at("topik"),
            intent="flow_choice",
            entities=[{"entity": "option", "value": "2"}],
        ),
        domain(),
    )

    assert FlowState.from_json(slot_events(went_back)[slots.FLOW_STATE]).node == "nama"
    assert slot_events(to_menu)[slots.FLOW_REPLY] == "end:menu"
    assert FlowState.from_json(slot_events(button)[slots.FLOW_STATE]).node == "pembangunan"


async def test_the_flow_ends_with_the_chosen_answer_and_its_rating(krs, dispatcher) -> None:
    form = ValidateFlowForm(krs)
    ended = await form.run(dispatcher, reply("Harga material", at("pembangunan")), domain())
    assert slot_events(ended)[slots.FLOW_REPLY] == "end:faq:harga-material-indikasi"
    tracker = make_tracker(
        "Harga material",
        slots={slots.FLOW_REPLY: "end:faq:harga-material-indikasi", slots.FLOW_STATE: at("x")},
    )

    events = await ActionFlowEnd(krs).run(dispatcher, tracker, {})

    assert "utter_faq_answer" in responses(dispatcher)
    answer = next(m for m in dispatcher.messages if m.get("response") == "utter_faq_answer")
    entry = next(e for e in load_faqs(KRS / "faq") if e.id == "harga-material-indikasi")
    assert answer["answer"] == entry.answer.strip()
    set_ = slot_events(events)
    assert set_[slots.AWAITING_FEEDBACK] is True and set_[slots.FLOW_STATE] is None


async def test_leaving_for_the_menu_shows_the_profiles_menu(krs) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("0", slots={slots.FLOW_REPLY: "end:menu"})

    await ActionFlowEnd(krs).run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_menu"]
    assert "1. Konsultasi Rumah" in dispatcher.messages[0]["menu_items"]


async def test_a_category_end_offers_its_questions(krs) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("", slots={slots.FLOW_REPLY: "end:faq_category:Informasi KRS"})

    await ActionFlowEnd(krs).run(dispatcher, tracker, {})

    (message,) = dispatcher.messages
    assert message["response"] == "utter_flow_category"
    assert "Apa itu Klinik Rumah Swadaya (KRS)?" in [b["title"] for b in message["buttons"]]


async def test_a_flow_that_is_gone_is_apologised_for(krs, dispatcher) -> None:
    gone = FlowState("tidak-ada", "a").to_json()

    events = await ActionAskFlowReply(krs).run(dispatcher, reply("", gone), {})

    assert responses(dispatcher) == ["utter_flow_unavailable"]
    assert slot_events(events)[slots.FLOW_STATE] is None


def test_every_flow_node_of_the_krs_profile_renders(konsultasi) -> None:
    for node in konsultasi.nodes.values():
        assert node.text and all(len(c.title) <= 20 for c in node.choices)


async def test_the_message_that_started_the_flow_is_no_answer(krs, dispatcher) -> None:
    tracker = make_tracker(
        "konsultasi rumah",
        slots={slots.FLOW_STATE: FlowState("konsultasi", "nama").to_json()},
        active_loop="flow_form",
        events=[{"event": "slot", "name": slots.FLOW_REPLY, "value": "konsultasi rumah"}],
    )

    events = await ValidateFlowForm(krs).run(dispatcher, tracker, domain())

    assert dispatcher.messages == []
    assert slots.FLOW_STATE not in slot_events(events)  # still at the first node
    assert slot_events(events)[slots.FLOW_REPLY] is None


async def test_what_the_flow_collected_is_stored_and_goes_into_a_ticket(krs, dispatcher) -> None:
    from datetime import datetime, timedelta, timezone

    from actions.flow import flow_notes

    data = {
        "nama": "Siti Aminah",
        "alamat": "Bogor",
        "hp": "6281234567890",
        "topik": "Informasi KRS",
    }
    tracker = make_tracker(
        "Apa itu KRS",
        slots={
            slots.FLOW_REPLY: "end:faq:krs-apa-itu",
            slots.FLOW_STATE: FlowState("konsultasi", "informasi", ("nama",), data).to_json(),
        },
    )

    await ActionFlowEnd(krs).run(dispatcher, tracker, {})

    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    (stored,) = krs.flow_submissions.recent(tracker.sender_id, since=since)
    assert stored.data == data and stored.outcome == "faq:krs-apa-itu"
    assert stored.flow_title == "Konsultasi Rumah Swadaya"
    notes = flow_notes(krs, tracker.sender_id)
    assert notes.startswith(
        "Data dari alur \u201cKonsultasi Rumah Swadaya\u201d:\nnama: Siti Aminah"
    )
    assert flow_notes(krs, "someone-else") == ""


KALTIM = PROFILES_DIR / "kaltim"


@pytest.fixture
def kaltim(settings, session_factory) -> Services:
    entries = load_faqs(KALTIM / "faq")
    retriever = retriever_for_entries(entries, FakeEmbedder(), threshold=0.5)
    kaltim_settings = replace(settings, profile_dir=KALTIM, menu_file=KALTIM / "menu.yml")
    return Services(kaltim_settings, session_factory=session_factory, retriever=retriever)


def _session_opened_with(text: str, metadata: dict[str, Any] | None = None):
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {"intent": {"name": "greet"}}},
    ]
    slots_ = {slots.SESSION_STARTED_METADATA: metadata} if metadata else {}
    return make_tracker(text, intent="greet", events=events, slots=slots_)


async def test_a_profile_asks_a_nameless_visitor_their_name_first(kaltim, dispatcher) -> None:
    from actions.greet import ActionGreet

    events = await ActionGreet(kaltim).run(dispatcher, _session_opened_with("halo"), {})

    set_ = slot_events(events)
    assert set_[slots.MENU_TARGET] == "flow_form"
    state = FlowState.from_json(set_[slots.FLOW_STATE])
    assert (state.flow, state.node) == ("perkenalan", "nama")
    assert {"event": "followup", "name": "flow_form"} in [
        {"event": e["event"], "name": e.get("name")} for e in events
    ]
    # The introduction now, the menu after the name (the form asks for it).
    assert responses(dispatcher) == ["utter_service_intro"]

    named = CollectingDispatcher()
    tracker = _session_opened_with("halo", {"name": "Rina Wulandari"})
    assert slot_events(await ActionGreet(kaltim).run(named, tracker, {})) == {
        slots.MENU_TARGET: None
    }
    assert responses(named) == ["utter_service_intro", "utter_menu"]  # the channel named her


async def test_the_name_given_thanks_by_name_shows_the_menu_and_is_kept(kaltim, dispatcher) -> None:
    from actions.handoff import citizen_name

    state = FlowState("perkenalan", "nama").to_json()
    result = await ValidateFlowForm(kaltim).run(
        dispatcher, reply("Rina Wulandari", state), domain()
    )
    set_ = slot_events(result)
    assert set_[slots.FLOW_REPLY] == "end:menu"
    assert [m.get("text") for m in dispatcher.messages] == [
        "Terima kasih, Rina Wulandari. Silakan pilih layanan di bawah ini atau tuliskan "
        "pertanyaan Anda."
    ]

    ended = make_tracker(
        "Rina Wulandari",
        slots={slots.FLOW_STATE: set_[slots.FLOW_STATE], slots.FLOW_REPLY: "end:menu"},
    )
    shown = CollectingDispatcher()
    events = await ActionFlowEnd(kaltim).run(shown, ended, {})

    assert slot_events(events)[slots.CITIZEN_NAME] == "Rina Wulandari"
    assert responses(shown) == ["utter_menu"]
    assert "Bicara dengan Petugas" in shown.messages[0]["menu_items"]
    later = make_tracker("petugas", slots={slots.CITIZEN_NAME: "Rina Wulandari"})
    assert citizen_name(later) == "Rina Wulandari"  # what an officer sees on handoff


async def test_a_name_that_is_no_name_is_asked_again(kaltim, dispatcher) -> None:
    state = FlowState("perkenalan", "nama").to_json()

    result = await ValidateFlowForm(kaltim).run(dispatcher, reply("12345", state), domain())

    assert slot_events(result)[slots.FLOW_REPLY] is None
    assert "Mohon tuliskan nama Anda dengan huruf saja" in dispatcher.messages[0]["text"]


async def test_a_question_instead_of_a_name_leaves_the_flow_and_is_answered(kaltim) -> None:
    state = FlowState("perkenalan", "nama").to_json()
    question = "Berapa lama permohonan informasi akan dijawab?"
    asked = CollectingDispatcher()

    result = await ValidateFlowForm(kaltim).run(asked, reply(question, state), domain())

    assert slot_events(result)[slots.FLOW_REPLY] == "end:question"
    assert asked.messages == []  # not "Mohon tuliskan nama"
    ended = make_tracker(
        question, slots={slots.FLOW_STATE: state, slots.FLOW_REPLY: "end:question"}
    )
    answered = CollectingDispatcher()
    events = await ActionFlowEnd(kaltim).run(answered, ended, {})

    assert "paling lambat 10 hari kerja" in answered.messages[0]["answer"]
    assert slot_events(events)[slots.FLOW_STATE] is None
