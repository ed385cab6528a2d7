"""Tests of the four self-service form validators, run the way Rasa runs them.

Each test builds a tracker whose latest events are the `SlotSet`s of the slot candidates (as
Rasa's FormAction appends them), calls `await validator.run(dispatcher, tracker, domain)` with
the assistant's own domain, and checks the returned events and the responses sent.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from unittest.mock import patch

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.ask_sakti_satker_code import ActionAskSaktiSatkerCode
from actions.forms.service_form import MAX_FAILURES
from actions.forms.validate_contract_form import ValidateContractForm
from actions.forms.validate_digit_form import ValidateDigitForm
from actions.forms.validate_sakti_form import ValidateSaktiForm
from actions.forms.validate_sp2d_form import ValidateSp2dForm
from helpdesk.backends.errors import BackendUnavailable, NotFound, Rejected
from helpdesk.backends.models import SaktiSatker
from helpdesk.services import Services
from helpdesk.settings import PROJECT_ROOT
from tests.actions.conftest import make_tracker, responses, slot_events

PHONE = "6281234567890"
NIK = "3201234567890001"
SATKERS = [
    SaktiSatker("415011", "KPPN Jakarta II"),
    SaktiSatker("527010", "Dinas Pendidikan Provinsi Sulawesi Selatan"),
]
OPTIONS = [
    {"code": "415011", "name": "KPPN Jakarta II"},
    {"code": "527010", "name": "Dinas Pendidikan Provinsi Sulawesi Selatan"},
]


@lru_cache(maxsize=1)
def _domain_files() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {"forms": {}, "slots": {}, "responses": {}}
    for path in sorted((PROJECT_ROOT / "domain").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in merged:
            merged[key].update(data.get(key) or {})
    return merged


def domain() -> dict[str, Any]:
    """The `forms` and `slots` of the assistant's domain, as the action server receives them."""
    files = _domain_files()
    return {"forms": dict(files["forms"]), "slots": dict(files["slots"])}


def form_tracker(
    form: str,
    text: str = "",
    *,
    intent: str = "inform",
    candidates: dict[str, Any] | None = None,
    slots: dict[str, Any] | None = None,
    requested: str | None = None,
    channel: str = "whatsapp",
    sender_id: str = PHONE,
) -> Tracker:
    """A tracker of `form` after the user wrote `text`: the slot candidates are the last events."""
    candidates = dict(candidates or {})
    values = {
        "form_failures": 0.0,
        "form_stopped": False,
        **(slots or {}),
        **candidates,
        "requested_slot": requested,
    }
    events: list[dict[str, Any]] = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {}, "input_channel": channel},
    ]
    events.extend({"event": "slot", "name": k, "value": v} for k, v in candidates.items())
    return make_tracker(
        text,
        intent=intent,
        slots=values,
        active_loop=form,
        events=events,
        sender_id=sender_id,
    )


def last_requested_slot(events: list[dict[str, Any]]) -> Any:
    """The last `requested_slot` the events set (what Rasa's `is_done` looks at); "unset"."""
    values = [e["value"] for e in events if e.get("name") == "requested_slot"]
    return values[-1] if values else "unset"


def message(dispatcher: CollectingDispatcher, response: str) -> dict[str, Any]:
    """The one message sent with `response`."""
    found = [m for m in dispatcher.messages if m.get("response") == response]
    assert len(found) == 1, responses(dispatcher)
    return found[0]


def assert_renders(dispatcher: CollectingDispatcher) -> None:
    """Every response sent is in the domain and gets every `{placeholder}` its text uses."""
    templates = _domain_files()["responses"]
    for sent in dispatcher.messages:
        name = sent.get("response")
        assert name in templates, f"{name} is not a domain response"
        needed = {
            field
            for variant in templates[name]
            for field in re.findall(r"{(\w+)}", variant.get("text", ""))
        }
        missing = {field for field in needed if sent.get(field) is None}
        assert not missing, f"{name} lacks {missing}"


class FakeSakti:
    """A SAKTI client that records the owner checks and answers with `satkers` or `error`."""

    def __init__(self, satkers: list[SaktiSatker] | None = None, error: Exception | None = None):
        self._satkers = list(SATKERS if satkers is None else satkers)
        self._error = error
        self.calls: list[tuple[str, ...]] = []

    def satkers(self, nik: str, requester_phone: str) -> list[SaktiSatker]:
        self.calls.append(("satkers", nik, requester_phone))
        if self._error is not None:
            raise self._error
        return list(self._satkers)

    def reset(self, kind: str, nik: str, satker_code: str, requester_phone: str) -> Any:
        self.calls.append(("reset", kind, nik, satker_code, requester_phone))
        raise AssertionError("the form validator must never reset")


# --- shared failure counting ---------------------------------------------------------


def test_failure_limit_is_three():
    assert MAX_FAILURES == 3


# --- validate_sp2d_form ----------------------------------------------------------------


@pytest.fixture
def sp2d_form(settings) -> ValidateSp2dForm:
    return ValidateSp2dForm(Services(settings))


async def test_sp2d_values_are_normalised(sp2d_form, dispatcher):
    tracker = form_tracker(
        "sp2d_form",
        "info sp2d 2600 1130.1000 123 rek 123-456-7890",
        intent="sp2d_info",
        candidates={"sp2d_number": "2600 1130.1000 123", "sp2d_account": "123.456.7890"},
    )

    events = await sp2d_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {
        "sp2d_number": "260011301000123",
        "sp2d_account": "1234567890",
    }
    assert dispatcher.messages == []


async def test_sp2d_number_of_wrong_length_is_re_asked_with_the_count(sp2d_form, dispatcher):
    tracker = form_tracker(
        "sp2d_form",
        "26001130100012",
        candidates={"sp2d_number": "26001130100012"},
        requested="sp2d_number",
    )

    events = await sp2d_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"sp2d_number": None, "form_failures": 1}
    assert responses(dispatcher) == ["utter_invalid_sp2d_number"]
    sent = message(dispatcher, "utter_invalid_sp2d_number")
    assert (sent["value"], sent["count"]) == ("26001130100012", 14)
    assert last_requested_slot(events) == "unset"  # the form asks the same slot again
    assert_renders(dispatcher)


@pytest.mark.parametrize("payload", ["/affirm", '/inform{"number":"3"}'])
async def test_a_button_of_an_earlier_step_is_not_quoted_back(sp2d_form, dispatcher, payload):
    # A "Ya" or rating button pressed while the form asks for the SP2D number.
    tracker = form_tracker(
        "sp2d_form", payload, candidates={"sp2d_number": payload}, requested="sp2d_number"
    )

    events = await sp2d_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"sp2d_number": None}, "not counted as a wrong answer"
    assert responses(dispatcher) == ["utter_button_outdated"]
    assert all(payload not in str(m) for m in dispatcher.messages)
    assert last_requested_slot(events) == "unset"  # the form asks the same slot again
    assert_renders(dispatcher)


async def test_a_fragment_tagged_by_nlu_gives_way_to_the_number_in_the_message(
    sp2d_form, dispatcher
):
    # DIET may tag one group of a number typed in groups as the entity.
    tracker = form_tracker(
        "sp2d_form",
        "nomor sp2d saya 2600 1130 1000 123",
        candidates={"sp2d_number": "1130"},
        requested="sp2d_number",
    )

    events = await sp2d_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"sp2d_number": "260011301000123"}
    assert dispatcher.messages == []


async def test_a_wrong_value_is_refused_when_the_message_holds_no_valid_number_either(
    sp2d_form, dispatcher
):
    tracker = form_tracker(
        "sp2d_form",
        "nomor sp2d saya 2600 1130",
        candidates={"sp2d_number": "1130"},
        requested="sp2d_number",
    )

    events = await sp2d_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"sp2d_number": None, "form_failures": 1}
    assert message(dispatcher, "utter_invalid_sp2d_number")["count"] == 4


async def test_sp2d_account_with_a_letter_is_refused(sp2d_form, dispatcher):
    tracker = form_tracker(
        "sp2d_form",
        "12345O7890",
        candidates={"sp2d_account": "12345O7890"},
        slots={"sp2d_number": "260011301000123"},
        requested="sp2d_account",
    )

    events = await sp2d_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"sp2d_account": None, "form_failures": 1}
    sent = message(dispatcher, "utter_invalid_sp2d_account")
    assert (sent["value"], sent["count"]) == ("12345O7890", 9)
    assert_renders(dispatcher)


async def test_sp2d_third_failure_gives_up_and_stops_the_form(sp2d_form, dispatcher):
    tracker = form_tracker(
        "sp2d_form",
        "123",
        candidates={"sp2d_number": "123"},
        slots={"form_failures": 2.0},
        requested="sp2d_number",
    )

    events = await sp2d_form.run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_invalid_sp2d_number", "utter_form_gave_up"]
    assert slot_events(events) == {
        "sp2d_number": None,
        "form_failures": 3,
        "requested_slot": None,
        "form_stopped": True,
    }
    assert last_requested_slot(events) is None
    assert_renders(dispatcher)


async def test_second_failure_does_not_stop_the_form(sp2d_form, dispatcher):
    tracker = form_tracker(
        "sp2d_form",
        "123",
        candidates={"sp2d_number": "123"},
        slots={"form_failures": 1.0},
        requested="sp2d_number",
    )

    events = await sp2d_form.run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_invalid_sp2d_number"]
    assert slot_events(events) == {"sp2d_number": None, "form_failures": 2}


async def test_two_values_refused_in_one_run_count_twice(sp2d_form, dispatcher):
    tracker = form_tracker(
        "sp2d_form",
        "sp2d 123 rek 12",
        intent="sp2d_info",
        candidates={"sp2d_number": "123", "sp2d_account": "12"},
        slots={"form_failures": 1.0},
    )

    events = await sp2d_form.run(dispatcher, tracker, domain())

    assert responses(dispatcher) == [
        "utter_invalid_sp2d_number",
        "utter_invalid_sp2d_account",
        "utter_form_gave_up",
    ]
    assert slot_events(events)["form_failures"] == 3
    assert slot_events(events)["form_stopped"] is True
    assert last_requested_slot(events) is None


def test_refusals_count_on_the_same_tracker_when_called_directly(sp2d_form, dispatcher):
    tracker = make_tracker("x", slots={"form_failures": 0.0})

    first = sp2d_form.validate_sp2d_number("123", dispatcher, tracker, {})
    second = sp2d_form.validate_sp2d_account("12", dispatcher, tracker, {})

    assert (first["form_failures"], second["form_failures"]) == (1, 2)
    assert "form_stopped" not in second


# --- validate_contract_form ------------------------------------------------------------


@pytest.fixture
def contract_form(settings) -> ValidateContractForm:
    return ValidateContractForm(Services(settings))


async def test_contract_values_are_normalised(contract_form, dispatcher):
    tracker = form_tracker(
        "contract_form",
        "nomor kontrak ktr-01/ppk/2026",
        candidates={
            "contract_satker_code": "415.011",
            "contract_number": "nomor kontrak ktr-01/ppk/2026",
        },
    )

    events = await contract_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {
        "contract_satker_code": "415011",
        "contract_number": "KTR-01/PPK/2026",
    }
    assert dispatcher.messages == []


async def test_contract_satker_code_is_re_asked_with_the_count(contract_form, dispatcher):
    tracker = form_tracker(
        "contract_form",
        "4150 1",
        candidates={"contract_satker_code": "4150 1"},
        requested="contract_satker_code",
    )

    events = await contract_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"contract_satker_code": None, "form_failures": 1}
    sent = message(dispatcher, "utter_invalid_contract_satker_code")
    assert (sent["value"], sent["count"]) == ("4150 1", 5)
    assert_renders(dispatcher)


async def test_contract_number_without_digits_is_refused(contract_form, dispatcher):
    tracker = form_tracker(
        "contract_form",
        "kontrak   pengadaan",
        candidates={"contract_number": "kontrak   pengadaan"},
        slots={"contract_satker_code": "415011"},
        requested="contract_number",
    )

    events = await contract_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"contract_number": None, "form_failures": 1}
    assert message(dispatcher, "utter_invalid_contract_number")["value"] == "kontrak pengadaan"
    assert_renders(dispatcher)


async def test_contract_third_failure_stops(contract_form, dispatcher):
    tracker = form_tracker(
        "contract_form",
        "KTR",
        candidates={"contract_number": "KTR"},
        slots={"contract_satker_code": "415011", "form_failures": 2.0},
        requested="contract_number",
    )

    events = await contract_form.run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_invalid_contract_number", "utter_form_gave_up"]
    assert slot_events(events)["form_stopped"] is True
    assert last_requested_slot(events) is None


# --- validate_digit_form ---------------------------------------------------------------


@pytest.fixture
def digit_form(settings) -> ValidateDigitForm:
    return ValidateDigitForm(Services(settings))


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("4", "inform", "reset"),
        ("4", "menu_select", "reset"),
        ("1", "inform", "status"),
        ("aktivasi", "inform", "activation"),
        ("buka blokir", "inform", "unblock"),
        ("cek email", "inform", "email_check"),
    ],
)
async def test_digit_service_answered_by_number_or_keyword(
    digit_form, dispatcher, text, intent, expected
):
    tracker = form_tracker("digit_form", text, intent=intent, requested="digit_service")

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events)["digit_service"] == expected
    assert dispatcher.messages == []


async def test_digit_service_from_the_opening_request(digit_form, dispatcher):
    # Activation: the NIK came from the entity mapping, the rest is extracted from the text.
    text = "reset digit nik 3201234567890001"
    tracker = form_tracker(
        "digit_form",
        text,
        intent="digit_service",
        candidates={"digit_id_value": "3201234567890001"},
        requested=None,
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {
        "digit_service": "reset",
        "digit_id_type": "nik",
        "digit_id_value": NIK,
    }
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("akun digit sy keblokir", "unblock"),
        ("akun digit saya ke blokir min", "unblock"),
        ("akun DIGIT kena blokir", "unblock"),
        ("akun digit saya terkunci", "unblock"),
        ("akun digit kblokir", "unblock"),  # a typo
        ("lupa pw digit", "reset"),
        ("riset pasword digit", "reset"),
        ("aktivasi akun digit", "activation"),
        ("akun digit sy ga aktif2", "activation"),
        ("cek email digit", "email_check"),
        ("imel digit yg terdaftar apa", "email_check"),
        ("cek status akun digit", "status"),
    ],
)
async def test_informal_opening_request_preselects_the_service(
    digit_form, dispatcher, text, expected
):
    tracker = form_tracker("digit_form", text, intent="digit_service", requested=None)

    events = await digit_form.run(dispatcher, tracker, domain())

    # Filled before the form asks anything, so the service question is skipped.
    assert slot_events(events)["digit_service"] == expected
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("akun saya keblokir", "unblock"),
        ("lupa password", "reset"),
        ("5", "unblock"),
        ("pilih 2", "email_check"),
    ],
)
async def test_digit_service_answer_in_informal_words(digit_form, dispatcher, text, expected):
    tracker = form_tracker("digit_form", text, intent="inform", requested="digit_service")

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events)["digit_service"] == expected
    assert dispatcher.messages == []


def test_digit_service_buttons_choose_their_service():
    """Each button of utter_ask_digit_service picks the service its place in the list says."""
    from helpdesk.conversation.keywords import DIGIT_SERVICE_KEYWORDS, digit_service_of

    [variant] = _domain_files()["responses"]["utter_ask_digit_service"]
    chosen = [digit_service_of(button["payload"], numbered=True) for button in variant["buttons"]]
    assert chosen == list(DIGIT_SERVICE_KEYWORDS.keys)


async def test_opening_request_without_a_keyword_extracts_nothing(digit_form, dispatcher):
    tracker = form_tracker("digit_form", "tolong akun digit saya", intent="digit_service")

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {}
    assert dispatcher.messages == []


async def test_keyword_outside_the_digit_intent_is_not_a_choice(digit_form, dispatcher):
    # Not asked yet and not the DIGIT request: "reset" must not choose a service.
    tracker = form_tracker("digit_form", "reset", intent="ask_question")

    events = await digit_form.run(dispatcher, tracker, domain())

    assert "digit_service" not in slot_events(events)


async def test_cancel_is_not_taken_as_the_answer(digit_form, dispatcher):
    tracker = form_tracker("digit_form", "batal", intent="cancel", requested="digit_service")

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {}
    assert dispatcher.messages == []


async def test_unknown_digit_service_is_re_asked(digit_form, dispatcher):
    tracker = form_tracker("digit_form", "9", requested="digit_service")

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"digit_service": None, "form_failures": 1}
    assert message(dispatcher, "utter_invalid_digit_service")["value"] == "9"
    assert_renders(dispatcher)


async def test_status_needs_no_email(digit_form, dispatcher):
    full = domain()["forms"]["digit_form"]["required_slots"]
    assert "digit_email" in full
    status = make_tracker(slots={"digit_service": "status"})
    reset = make_tracker(slots={"digit_service": "reset"})

    assert await digit_form.required_slots(full, dispatcher, status, domain()) == [
        "digit_service",
        "digit_id_type",
        "digit_id_value",
    ]
    assert await digit_form.required_slots(full, dispatcher, reset, domain()) == full


async def test_status_form_is_done_without_email(digit_form, dispatcher):
    tracker = form_tracker(
        "digit_form",
        "3201 2345 6789 0001",
        candidates={"digit_id_value": "3201 2345 6789 0001"},
        slots={"digit_service": "status", "digit_id_type": "nik"},
        requested="digit_id_value",
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events)["digit_id_value"] == NIK
    assert last_requested_slot(events) is None  # nothing left to ask: no e-mail
    assert dispatcher.messages == []


async def test_reset_form_still_asks_the_email(digit_form, dispatcher):
    tracker = form_tracker(
        "digit_form",
        NIK,
        candidates={"digit_id_value": NIK},
        slots={"digit_service": "reset", "digit_id_type": "nik"},
        requested="digit_id_value",
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    # Rasa's FormAction asks the next slot of the domain form (digit_email).
    assert slot_events(events) == {"digit_id_value": NIK}
    assert last_requested_slot(events) == "unset"


@pytest.mark.parametrize(
    ("typed", "value", "id_type"),
    [
        ("3201 2345 6789 0001", NIK, "nik"),
        ("198501012010011001", "198501012010011001", "nip"),
    ],
)
async def test_identity_length_sets_the_type(digit_form, dispatcher, typed, value, id_type):
    tracker = form_tracker(
        "digit_form",
        f"reset digit {typed}",
        intent="digit_service",
        candidates={"digit_id_value": typed},
        slots={"digit_service": "reset"},
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"digit_id_value": value, "digit_id_type": id_type}
    assert dispatcher.messages == []


async def test_identity_of_another_length_waits_for_the_type(digit_form, dispatcher):
    tracker = form_tracker(
        "digit_form",
        "reset digit 85010123",
        intent="digit_service",
        candidates={"digit_id_value": "85010123"},
        slots={"digit_service": "reset"},
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"digit_id_value": "85010123"}


async def test_type_chosen_after_a_value_that_does_not_fit_clears_it(digit_form, dispatcher):
    tracker = form_tracker(
        "digit_form",
        "nip",
        slots={"digit_service": "reset", "digit_id_value": NIK},
        requested="digit_id_type",
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"digit_id_type": "nip", "digit_id_value": None}
    sent = message(dispatcher, "utter_invalid_digit_id_value")
    assert (sent["digit_id_label"], sent["expected"], sent["count"]) == ("NIP", "18", 16)
    assert_renders(dispatcher)


async def test_type_chosen_after_a_value_that_fits_keeps_it(digit_form, dispatcher):
    tracker = form_tracker(
        "digit_form",
        "3",
        slots={"digit_service": "reset", "digit_id_value": "85010123"},
        requested="digit_id_type",
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"digit_id_type": "nrp"}
    assert dispatcher.messages == []


async def test_unknown_identity_type_is_re_asked(digit_form, dispatcher):
    tracker = form_tracker(
        "digit_form", "sim", slots={"digit_service": "reset"}, requested="digit_id_type"
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"digit_id_type": None, "form_failures": 1}
    assert responses(dispatcher) == ["utter_invalid_digit_id_type"]


@pytest.mark.parametrize(
    ("id_type", "typed", "label", "expected", "count"),
    [
        ("nik", "12345", "NIK", "16", 5),
        ("nip", "1985 0101 2010", "NIP", "18", 12),
        ("nrp", "1234", "NRP", "5-14", 4),
        (None, "1234", "NIK/NIP/NRP", "5-18", 4),
    ],
)
async def test_wrong_identity_value_is_re_asked_with_reason(
    digit_form, dispatcher, id_type, typed, label, expected, count
):
    tracker = form_tracker(
        "digit_form",
        typed,
        candidates={"digit_id_value": typed},
        slots={"digit_service": "reset", "digit_id_type": id_type},
        requested="digit_id_value",
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    assert slot_events(events) == {"digit_id_value": None, "form_failures": 1}
    sent = message(dispatcher, "utter_invalid_digit_id_value")
    assert (sent["digit_id_label"], sent["expected"], sent["value"], sent["count"]) == (
        label,
        expected,
        typed,
        count,
    )
    assert_renders(dispatcher)


async def test_digit_email_is_normalised_or_refused(digit_form, dispatcher):
    base = {"digit_service": "reset", "digit_id_type": "nik", "digit_id_value": NIK}
    good = form_tracker(
        "digit_form",
        "email saya Budi.Santoso@Kemenkeu.GO.ID",
        candidates={"digit_email": "email saya Budi.Santoso@Kemenkeu.GO.ID"},
        slots=base,
        requested="digit_email",
    )
    bad = form_tracker(
        "digit_form",
        "budi@",
        candidates={"digit_email": "budi@"},
        slots=base,
        requested="digit_email",
    )

    assert slot_events(await digit_form.run(dispatcher, good, domain())) == {
        "digit_email": "Budi.Santoso@kemenkeu.go.id"
    }
    assert dispatcher.messages == []
    assert slot_events(await digit_form.run(dispatcher, bad, domain())) == {
        "digit_email": None,
        "form_failures": 1,
    }
    assert message(dispatcher, "utter_invalid_digit_email")["value"] == "budi@"


async def test_digit_third_failure_stops_the_form(digit_form, dispatcher):
    tracker = form_tracker(
        "digit_form",
        "12345",
        candidates={"digit_id_value": "12345"},
        slots={"digit_service": "reset", "digit_id_type": "nik", "form_failures": 2.0},
        requested="digit_id_value",
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_invalid_digit_id_value", "utter_form_gave_up"]
    assert slot_events(events)["form_stopped"] is True
    assert last_requested_slot(events) is None


async def test_digit_status_third_failure_stops_the_form(digit_form, dispatcher):
    tracker = form_tracker(
        "digit_form",
        "12345",
        candidates={"digit_id_value": "12345"},
        slots={"digit_service": "status", "digit_id_type": "nik", "form_failures": 2.0},
        requested="digit_id_value",
    )

    events = await digit_form.run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_invalid_digit_id_value", "utter_form_gave_up"]
    assert slot_events(events)["form_stopped"] is True
    assert last_requested_slot(events) is None


# --- validate_sakti_form ---------------------------------------------------------------


def sakti_form(settings, client: FakeSakti) -> ValidateSaktiForm:
    return ValidateSaktiForm(Services(settings, sakti=client))


@pytest.mark.parametrize(
    ("channel", "sender_id"),
    [
        ("socketio", PHONE),  # web chat: the sender id is not a verified phone
        ("telegram", PHONE),
        ("whatsapp", "web-3f2a9c"),  # trusted channel, but not a phone number
        ("rest", "user-42"),
        ("rest", PHONE),  # REST is not trusted by default: anyone can claim a number there
    ],
)
async def test_sakti_refused_at_once_without_a_verified_phone(
    settings, dispatcher, channel, sender_id
):
    client = FakeSakti()
    tracker = form_tracker(
        "sakti_form",
        "reset password sakti nik 3201234567890001",
        intent="sakti_service",
        candidates={"sakti_nik": NIK},
        channel=channel,
        sender_id=sender_id,
    )

    events = await sakti_form(settings, client).run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_sakti_refused"]
    assert slot_events(events) == {"requested_slot": None, "form_stopped": True}
    assert client.calls == []
    assert_renders(dispatcher)


async def test_sakti_channel_claimed_in_session_metadata_is_not_trusted(settings, dispatcher):
    client = FakeSakti()
    tracker = form_tracker(
        "sakti_form",
        NIK,
        candidates={"sakti_nik": NIK},
        slots={"sakti_kind": "password", "session_started_metadata": {"channel": "whatsapp"}},
        requested="sakti_nik",
        channel="socketio",
        sender_id=PHONE,
    )

    events = await sakti_form(settings, client).run(dispatcher, tracker, domain())

    assert client.calls == []
    assert responses(dispatcher) == ["utter_sakti_refused"]
    assert slot_events(events)["form_stopped"] is True


async def test_sakti_trusted_channels_come_from_settings(settings, dispatcher):
    from dataclasses import replace

    client = FakeSakti()
    tracker = form_tracker(
        "sakti_form", NIK, candidates={"sakti_nik": NIK}, requested="sakti_nik", channel="rest"
    )
    only_whatsapp = replace(settings, sakti_trusted_channels=("whatsapp",))

    await sakti_form(only_whatsapp, client).run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_sakti_refused"]
    assert client.calls == []


@pytest.mark.parametrize(
    ("channel", "sender_id"),
    [("whatsapp", PHONE), ("rest", "0812-3456-7890"), ("WhatsApp", "+62 812 3456 7890")],
)
async def test_sakti_nik_is_checked_against_the_requester_phone(
    settings, dispatcher, channel, sender_id
):
    from dataclasses import replace

    # REST as an integrator's authenticated gateway (allowed only with a REST token).
    settings = replace(settings, sakti_trusted_channels=("whatsapp", "rest"), rest_token="t" * 32)
    client = FakeSakti()
    tracker = form_tracker(
        "sakti_form",
        "3201 2345 6789 0001",
        candidates={"sakti_nik": "3201 2345 6789 0001"},
        slots={"sakti_kind": "password"},
        requested="sakti_nik",
        channel=channel,
        sender_id=sender_id,
    )

    events = await sakti_form(settings, client).run(dispatcher, tracker, domain())

    assert client.calls == [("satkers", NIK, PHONE)]
    assert slot_events(events) == {"sakti_nik": NIK, "sakti_satker_options": OPTIONS}
    assert dispatcher.messages == []


async def test_sakti_satker_without_name_is_stored_with_an_empty_name(settings, dispatcher):
    client = FakeSakti(satkers=[SaktiSatker("415011", None)])
    tracker = form_tracker("sakti_form", NIK, candidates={"sakti_nik": NIK}, requested="sakti_nik")

    events = await sakti_form(settings, client).run(dispatcher, tracker, domain())

    assert slot_events(events)["sakti_satker_options"] == [{"code": "415011", "name": ""}]


@pytest.mark.parametrize(
    "error",
    [Rejected("requester_not_owner", "not the owner"), NotFound("no such user")],
    ids=["rejected", "not-found"],
)
async def test_sakti_owner_check_refusal_stops_the_form(settings, dispatcher, error):
    client = FakeSakti(error=error)
    tracker = form_tracker("sakti_form", NIK, candidates={"sakti_nik": NIK}, requested="sakti_nik")

    events = await sakti_form(settings, client).run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_sakti_refused"]
    assert slot_events(events) == {
        "sakti_nik": None,
        "requested_slot": None,
        "form_stopped": True,
    }
    assert last_requested_slot(events) is None
    assert len(client.calls) == 1


async def test_the_sakti_owner_check_is_rate_limited_per_nik(settings, session_factory):
    """The owner check tells whether a NIK belongs to the phone: one NIK probed from many
    numbers meets the per-identifier limit, and the backend is not asked."""
    from helpdesk.security.ratelimit import LookupLimits, RateLimiter, Rule
    from helpdesk.storage.ratelimits import RateLimitRepository

    client = FakeSakti()
    services = Services(settings, session_factory=session_factory, sakti=client)
    limits = LookupLimits(
        RateLimiter(RateLimitRepository(session_factory)),
        per_identifier=Rule("lookup_identifier", 2, 3600),
    )
    replies = []
    for n in range(3):
        dispatcher = CollectingDispatcher()
        tracker = form_tracker(
            "sakti_form",
            NIK,
            candidates={"sakti_nik": NIK},
            requested="sakti_nik",
            sender_id=f"62812345678{n:02d}",
        )
        with patch.object(Services, "lookup_limits", new=limits):
            events = await ValidateSaktiForm(services).run(dispatcher, tracker, domain())
        replies.append(responses(dispatcher))

    assert replies[:2] == [[], []]
    assert replies[2] == ["utter_lookup_limited"]
    assert slot_events(events) == {"sakti_nik": None, "requested_slot": None, "form_stopped": True}
    assert len(client.calls) == 2


async def test_sakti_backend_down_stops_the_form_politely(settings, dispatcher):
    client = FakeSakti(error=BackendUnavailable("timeout"))
    tracker = form_tracker("sakti_form", NIK, candidates={"sakti_nik": NIK}, requested="sakti_nik")

    events = await sakti_form(settings, client).run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert dispatcher.messages[0]["service"] == "SAKTI"
    assert slot_events(events) == {
        "sakti_nik": None,
        "requested_slot": None,
        "form_stopped": True,
    }
    assert_renders(dispatcher)


async def test_malformed_sakti_nik_is_re_asked_without_a_backend_call(settings, dispatcher):
    client = FakeSakti()
    tracker = form_tracker(
        "sakti_form",
        "320123456789000",
        candidates={"sakti_nik": "320123456789000"},
        requested="sakti_nik",
    )

    events = await sakti_form(settings, client).run(dispatcher, tracker, domain())

    assert slot_events(events) == {"sakti_nik": None, "form_failures": 1}
    sent = message(dispatcher, "utter_invalid_sakti_nik")
    assert (sent["value"], sent["count"]) == ("320123456789000", 15)
    assert client.calls == []
    assert_renders(dispatcher)


@pytest.mark.parametrize(("typed", "code"), [("415011", "415011"), ("527.010", "527010")])
async def test_sakti_satker_code_among_the_options_is_accepted(settings, dispatcher, typed, code):
    tracker = form_tracker(
        "sakti_form",
        typed,
        candidates={"sakti_satker_code": typed},
        slots={"sakti_kind": "mfa", "sakti_nik": NIK, "sakti_satker_options": OPTIONS},
        requested="sakti_satker_code",
    )

    events = await sakti_form(settings, FakeSakti()).run(dispatcher, tracker, domain())

    assert slot_events(events) == {"sakti_satker_code": code}
    assert dispatcher.messages == []


async def test_sakti_satker_code_outside_the_options_is_refused_with_the_list(settings, dispatcher):
    tracker = form_tracker(
        "sakti_form",
        "634512",
        candidates={"sakti_satker_code": "634512"},
        slots={"sakti_kind": "mfa", "sakti_nik": NIK, "sakti_satker_options": OPTIONS},
        requested="sakti_satker_code",
    )

    events = await sakti_form(settings, FakeSakti()).run(dispatcher, tracker, domain())

    assert slot_events(events) == {"sakti_satker_code": None, "form_failures": 1}
    sent = message(dispatcher, "utter_sakti_satker_not_registered")
    assert (sent["satker_code"], sent["satker_list"]) == ("634512", "415011, 527010")
    assert_renders(dispatcher)


async def test_malformed_sakti_satker_code_gives_the_count(settings, dispatcher):
    tracker = form_tracker(
        "sakti_form",
        "41501",
        candidates={"sakti_satker_code": "41501"},
        slots={"sakti_kind": "mfa", "sakti_nik": NIK, "sakti_satker_options": OPTIONS},
        requested="sakti_satker_code",
    )

    await sakti_form(settings, FakeSakti()).run(dispatcher, tracker, domain())

    sent = message(dispatcher, "utter_invalid_sakti_satker_code")
    assert (sent["value"], sent["count"]) == ("41501", 5)


async def test_sakti_third_failure_stops_the_form(settings, dispatcher):
    tracker = form_tracker(
        "sakti_form",
        "634512",
        candidates={"sakti_satker_code": "634512"},
        slots={
            "sakti_kind": "mfa",
            "sakti_nik": NIK,
            "sakti_satker_options": OPTIONS,
            "form_failures": 2.0,
        },
        requested="sakti_satker_code",
    )

    events = await sakti_form(settings, FakeSakti()).run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_sakti_satker_not_registered", "utter_form_gave_up"]
    assert slot_events(events)["form_stopped"] is True
    assert last_requested_slot(events) is None


@pytest.mark.parametrize(
    ("text", "intent", "requested", "expected"),
    [
        ("reset mfa sakti", "sakti_service", None, "mfa"),
        ("lupa password sakti", "sakti_service", None, "password"),
        ("1", "inform", "sakti_kind", "password"),
        ("2", "menu_select", "sakti_kind", "mfa"),
        ("OTP", "inform", "sakti_kind", "mfa"),
    ],
)
async def test_sakti_kind_from_the_request_or_the_answer(
    settings, dispatcher, text, intent, requested, expected
):
    tracker = form_tracker("sakti_form", text, intent=intent, requested=requested)

    events = await sakti_form(settings, FakeSakti()).run(dispatcher, tracker, domain())

    assert slot_events(events) == {"sakti_kind": expected}


async def test_unknown_sakti_kind_is_re_asked(settings, dispatcher):
    tracker = form_tracker("sakti_form", "3", requested="sakti_kind")

    events = await sakti_form(settings, FakeSakti()).run(dispatcher, tracker, domain())

    assert slot_events(events) == {"sakti_kind": None, "form_failures": 1}
    assert responses(dispatcher) == ["utter_invalid_sakti_kind"]


# --- action_ask_sakti_satker_code ------------------------------------------------------


async def test_ask_satker_code_offers_a_button_per_registered_satker(dispatcher):
    tracker = make_tracker(slots={"sakti_satker_options": OPTIONS})

    events = await ActionAskSaktiSatkerCode().run(dispatcher, tracker, {})

    assert events == []
    assert responses(dispatcher) == ["utter_ask_sakti_satker_code_choice"]
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "415011 KPPN Jakarta II", "payload": "415011"},
        {"title": "527010 Dinas Pendidikan Provinsi Sulawesi Selatan", "payload": "527010"},
    ]


async def test_ask_satker_code_button_without_a_name_shows_the_code(dispatcher):
    options = [{"code": "415011", "name": ""}, {"code": "527010"}]
    tracker = make_tracker(slots={"sakti_satker_options": options})

    await ActionAskSaktiSatkerCode().run(dispatcher, tracker, {})

    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == ["415011", "527010"]


@pytest.mark.parametrize("options", [None, [], OPTIONS[:1]])
async def test_ask_satker_code_without_several_options_asks_to_type_it(dispatcher, options):
    tracker = make_tracker(slots={"sakti_satker_options": options})

    await ActionAskSaktiSatkerCode().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ask_sakti_satker_code"]
    assert dispatcher.messages[0]["buttons"] == []


# --- a lookup the organisation does not offer ---------------------------------------


@pytest.mark.parametrize(
    ("validator", "form", "text"),
    [
        (ValidateSp2dForm, "sp2d_form", "cek sp2d 260011301000123"),
        (ValidateContractForm, "contract_form", "cek kontrak"),
        (ValidateDigitForm, "digit_form", "reset akun digit"),
        (ValidateSaktiForm, "sakti_form", "reset password sakti"),
    ],
)
async def test_a_lookup_the_profile_does_not_offer_stops_its_form_at_once(
    settings, dispatcher, validator, form, text
):
    from dataclasses import replace

    from helpdesk.profile import PROFILES_DIR

    pandi = replace(settings, profile_dir=PROFILES_DIR / "pandi")
    tracker = form_tracker(form, text, intent="inform")

    events = await validator(Services(pandi)).run(dispatcher, tracker, domain())

    assert responses(dispatcher) == ["utter_lookup_unavailable"]
    assert message(dispatcher, "utter_lookup_unavailable")["service"] == "Helpdesk PANDI"
    assert last_requested_slot(events) is None
    assert {(e["name"], e["value"]) for e in events} >= {("form_stopped", True)}
    assert_renders(dispatcher)


async def test_a_lookup_the_profile_offers_runs_as_before(sp2d_form, dispatcher):
    tracker = form_tracker("sp2d_form", "cek sp2d", intent="sp2d_info")

    await sp2d_form.run(dispatcher, tracker, domain())

    assert "utter_lookup_unavailable" not in responses(dispatcher)
