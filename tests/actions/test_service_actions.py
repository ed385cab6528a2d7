"""Tests of the four self-service actions: SP2D, contract, DIGIT and SAKTI.

Each action gets a `Services` with a small fake client injected (plain objects that record
their calls and raise the real error types), a real `CollectingDispatcher` and a `Tracker`
made directly. The last tests run the real clients against the real backend simulator.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pytest
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher

from actions.check_contract import ActionCheckContract
from actions.digit_service import ActionDigitService
from actions.forms.validate_sakti_form import ValidateSaktiForm
from actions.sakti_reset import ActionSaktiReset
from actions.sp2d_info import ActionSp2dInfo
from helpdesk.backends.errors import BackendUnavailable, NotFound, Rejected
from helpdesk.backends.models import (
    ContractRegistration,
    DigitEmailCheck,
    DigitRequestResult,
    DigitUser,
    SaktiResetResult,
    Sp2dInfo,
)
from helpdesk.security.ratelimit import LookupLimits, RateLimiter, Rule
from helpdesk.services import Services
from helpdesk.settings import PROJECT_ROOT
from helpdesk.storage.ratelimits import RateLimitRepository
from tests.actions.conftest import domain_dict, make_tracker, responses, slot_events

PHONE = "6281234567890"
OTHER_PHONE = "6289999999999"
NIK = "3201234567890001"
NIP = "198501012010011001"
ACCOUNT = "1234567890"
SP2D = "260011301000123"
EMAIL = "budi.santoso@kemenkeu.go.id"

SP2D_SLOTS = {"sp2d_number": SP2D, "sp2d_account": ACCOUNT}
CONTRACT_SLOTS = {"contract_satker_code": "415011", "contract_number": "KTR-01/PPK/2026"}
DIGIT_SLOTS = {
    "digit_service": "reset",
    "digit_id_type": "nik",
    "digit_id_value": NIK,
    "digit_email": EMAIL,
}
SAKTI_SLOTS = {
    "sakti_kind": "password",
    "sakti_nik": NIK,
    "sakti_satker_code": "415011",
    "sakti_satker_options": [
        {"code": "415011", "name": "KPPN Jakarta II"},
        {"code": "527010", "name": "Dinas Pendidikan Provinsi Sulawesi Selatan"},
    ],
}

_RESET = {"form_failures": 0.0, "form_stopped": False}
#: What each action's events must leave behind: the form's slots cleared, counters reset.
CLEARED = {
    "sp2d": {"sp2d_number": None, "sp2d_account": None, **_RESET},
    "contract": {"contract_satker_code": None, "contract_number": None, **_RESET},
    "digit": {
        "digit_service": None,
        "digit_id_type": None,
        "digit_id_value": None,
        "digit_email": None,
        **_RESET,
    },
    "sakti": {
        "sakti_kind": None,
        "sakti_nik": None,
        "sakti_satker_code": None,
        "sakti_satker_options": None,
        **_RESET,
    },
}


# --- fakes ----------------------------------------------------------------------------


class FakeClient:
    """Records every call; answers with `result` or raises `error`."""

    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.result = result
        self.error = error
        self.calls: list[tuple[Any, ...]] = []

    def _answer(self, *call: Any) -> Any:
        self.calls.append(call)
        if self.error is not None:
            raise self.error
        return self.result


class FakeSp2d(FakeClient):
    def lookup(self, sp2d_number: str, account_number: str) -> Sp2dInfo:
        return self._answer("lookup", sp2d_number, account_number)


class FakeContracts(FakeClient):
    def check(self, satker_code: str, contract_number: str) -> ContractRegistration:
        return self._answer("check", satker_code, contract_number)


class FakeDigit(FakeClient):
    def user_status(self, id_type: str, id_value: str) -> DigitUser:
        return self._answer("user_status", id_type, id_value)

    def check_email(self, id_type: str, id_value: str, email: str) -> DigitEmailCheck:
        return self._answer("check_email", id_type, id_value, email)

    def request(self, action: str, id_type: str, id_value: str, email: str) -> DigitRequestResult:
        return self._answer("request", action, id_type, id_value, email)


class FakeSakti(FakeClient):
    def satkers(self, nik: str, requester_phone: str) -> list[Any]:
        return self._answer("satkers", nik, requester_phone)

    def reset(
        self, kind: str, nik: str, satker_code: str, requester_phone: str
    ) -> SaktiResetResult:
        return self._answer("reset", kind, nik, satker_code, requester_phone)


@dataclass(frozen=True)
class Case:
    """One action with its fake client, its complete slots and its service name."""

    form: str
    action: type[Action]
    client: str
    fake: type[FakeClient]
    slots: dict[str, Any]
    service: str


CASES = [
    Case("sp2d", ActionSp2dInfo, "sp2d", FakeSp2d, SP2D_SLOTS, "SP2D"),
    Case(
        "contract",
        ActionCheckContract,
        "contracts",
        FakeContracts,
        CONTRACT_SLOTS,
        "pendaftaran kontrak",
    ),
    Case("digit", ActionDigitService, "digit", FakeDigit, DIGIT_SLOTS, "DIGIT"),
    Case("sakti", ActionSaktiReset, "sakti", FakeSakti, SAKTI_SLOTS, "SAKTI"),
]
CASE_IDS = [case.form for case in CASES]


def tracker(slots: dict[str, Any], channel: str = "whatsapp", sender_id: str = PHONE):
    """A tracker after the form completed, on `channel` from `sender_id`."""
    events = [{"event": "user", "text": "ok", "parse_data": {}, "input_channel": channel}]
    values = {**_RESET, **slots}
    return make_tracker("ok", intent="inform", slots=values, events=events, sender_id=sender_id)


async def run(action: Action, slots: dict[str, Any], dispatcher, **kwargs) -> list[dict]:
    return await action.run(dispatcher, tracker(slots, **kwargs), {})


def texts_of(value: Any) -> list[str]:
    """Every string inside a message value (buttons and lists included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in texts_of(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in texts_of(item)]
    return [str(value)] if value is not None else []


def assert_not_shown(dispatcher: CollectingDispatcher, *secrets: str) -> None:
    """No full personal identifier appears in any kwarg of any message."""
    assert dispatcher.messages, "nothing was sent"
    for message in dispatcher.messages:
        for key, value in message.items():
            for text in texts_of(value):
                for secret in secrets:
                    assert secret not in text, f"{key} of {message['response']} shows {secret}"


def only_message(dispatcher: CollectingDispatcher, response: str) -> dict[str, Any]:
    assert responses(dispatcher) == [response]
    return dispatcher.messages[0]


# --- shared paths of the four actions -------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_stopped_form_only_cleans_up(settings, dispatcher, case):
    fake = case.fake(error=AssertionError("must not be called"))
    action = case.action(Services(settings, **{case.client: fake}))

    events = await run(
        action, {**case.slots, "form_stopped": True, "form_failures": 3.0}, dispatcher
    )

    assert dispatcher.messages == []
    assert fake.calls == []
    assert slot_events(events) == CLEARED[case.form]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("missing", [0, -1], ids=["first", "last"])
async def test_missing_value_gives_up_without_a_backend_call(settings, dispatcher, case, missing):
    fake = case.fake(error=AssertionError("must not be called"))
    action = case.action(Services(settings, **{case.client: fake}))
    names = [name for name in case.slots if name != "sakti_satker_options"]
    slots = {**case.slots, names[missing]: None}

    events = await run(action, slots, dispatcher)

    assert responses(dispatcher) == ["utter_form_gave_up"]
    assert fake.calls == []
    assert slot_events(events) == CLEARED[case.form]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_backend_unavailable_names_the_service(settings, dispatcher, case):
    fake = case.fake(error=BackendUnavailable("503 from the backend"))
    action = case.action(Services(settings, **{case.client: fake}))

    events = await run(action, case.slots, dispatcher)

    assert only_message(dispatcher, "utter_backend_unavailable")["service"] == case.service
    assert len(fake.calls) == 1
    assert slot_events(events) == CLEARED[case.form]


# --- rate limits: the lookups are not an oracle ------------------------------------------


class LimitedServices(Services):
    """Services whose lookup limits are given (the property builds the default ones)."""

    def __init__(self, *args: Any, limits: LookupLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits

    @property
    def lookup_limits(self) -> LookupLimits:
        return self._limits


def services_with_limits(settings, session_factory, case: Case, fake: FakeClient, **rules: Any):
    limiter = RateLimiter(RateLimitRepository(session_factory))
    limits = LookupLimits(
        limiter,
        per_sender=rules.get("per_sender", Rule("lookup_sender", 100, 3600)),
        per_identifier=rules.get("per_identifier", Rule("lookup_identifier", 100, 3600)),
    )
    return LimitedServices(
        settings,
        session_factory=session_factory,
        rate_limiter=limiter,
        limits=limits,
        **{case.client: fake},
    )


def limited_reply(dispatcher: CollectingDispatcher) -> dict[str, Any]:
    sent = only_message(dispatcher, "utter_lookup_limited")
    assert 1 <= sent["minutes"] <= 60
    return sent


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_one_identifier_is_looked_up_only_so_often_from_any_sender(
    settings, session_factory, case
):
    result = {
        "sp2d": SP2D_INFO,
        "contract": registration(),
        "digit": DigitUser("nik", "aktif", "bu***@ke***.go.id"),
        "sakti": SaktiResetResult("SKT-1", "password", "415011", "62812****7890"),
    }[case.form]
    fake = case.fake(result=result)
    services = services_with_limits(
        settings,
        session_factory,
        case,
        fake,
        per_identifier=Rule("lookup_identifier", 3, 3600),
    )
    slots = {**case.slots, "digit_service": "status"} if case.form == "digit" else case.slots
    # Three different senders (fresh sender ids are free on REST) probe the same identifier.
    for sender in ("6281111111111", "6282222222222", "6283333333333"):
        dispatcher = CollectingDispatcher()
        await case.action(services).run(dispatcher, tracker(slots, sender_id=sender), {})
        assert responses(dispatcher) != ["utter_lookup_limited"]
    assert len(fake.calls) == 3

    dispatcher = CollectingDispatcher()
    events = await case.action(services).run(
        dispatcher, tracker(slots, sender_id="6284444444444"), {}
    )

    limited_reply(dispatcher)
    assert len(fake.calls) == 3  # the backend was not asked again
    assert slot_events(events) == CLEARED[case.form]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_one_sender_runs_only_so_many_lookups(settings, session_factory, case):
    fake = case.fake(error=NotFound("nothing there"))
    services = services_with_limits(
        settings, session_factory, case, fake, per_sender=Rule("lookup_sender", 2, 3600)
    )
    values = {
        "sp2d": ("sp2d_number", ["260011301000001", "260011301000002", "260011301000003"]),
        "contract": ("contract_number", ["KTR-1", "KTR-2", "KTR-3"]),
        "digit": ("digit_id_value", ["3201234567890001", "3201234567890002", "3201234567890003"]),
        "sakti": ("sakti_nik", ["3201234567890001", "3201234567890002", "3201234567890003"]),
    }[case.form]
    slot, tried = values
    replies = []
    for value in tried:  # one sender probing different identifiers
        dispatcher = CollectingDispatcher()
        await case.action(services).run(dispatcher, tracker({**case.slots, slot: value}), {})
        replies.append(responses(dispatcher))
    assert replies[2] == ["utter_lookup_limited"]
    assert "utter_lookup_limited" not in replies[0] + replies[1]
    assert len(fake.calls) == 2


async def test_a_limited_lookup_tells_when_to_try_again(settings, session_factory, dispatcher):
    case = CASES[2]  # DIGIT
    fake = FakeDigit(result=DigitUser("nik", "aktif", "bu***@ke***.go.id"))
    services = services_with_limits(
        settings, session_factory, case, fake, per_identifier=Rule("lookup_identifier", 1, 3600)
    )
    slots = {**DIGIT_SLOTS, "digit_service": "status", "digit_email": None}
    await run(ActionDigitService(services), slots, CollectingDispatcher())

    await run(ActionDigitService(services), slots, dispatcher)

    assert limited_reply(dispatcher)["minutes"] >= 1
    assert_not_shown(dispatcher, NIK)


async def test_lookups_are_refused_when_the_limits_cannot_be_checked(settings, dispatcher):
    class BrokenLimits:
        def allow(self, sender_id: str, kind: str, value: str) -> Any:
            raise RuntimeError("database unavailable")

    fake = FakeSp2d(result=SP2D_INFO)
    services = LimitedServices(settings, sp2d=fake, limits=BrokenLimits())  # type: ignore[arg-type]

    await run(ActionSp2dInfo(services), SP2D_SLOTS, dispatcher)

    assert responses(dispatcher) == ["utter_technical_problem"]
    assert fake.calls == []


def test_cleared_slots_are_every_slot_of_the_domain_form():
    # CLEARED is what the tests above expect; it must hold every slot each form asks for.
    forms = domain_dict()["forms"]
    for case in CASES:
        required = set(forms[f"{case.form}_form"]["required_slots"])
        assert required | set(case.slots) <= set(CLEARED[case.form])


# --- action_sp2d_info -----------------------------------------------------------------

SP2D_INFO = Sp2dInfo(
    sp2d_number=SP2D,
    satker_code="415011",
    satker_name="KPPN Jakarta II",
    spm_number="00123T/415011/2026",
    amount=15_000_000,
    date=date(2026, 3, 2),
    status="Sudah dicairkan",
)


async def test_sp2d_found_is_told_with_amount_and_date(settings, dispatcher):
    fake = FakeSp2d(result=SP2D_INFO)

    events = await run(ActionSp2dInfo(Services(settings, sp2d=fake)), SP2D_SLOTS, dispatcher)

    assert fake.calls == [("lookup", SP2D, ACCOUNT)]
    sent = only_message(dispatcher, "utter_sp2d_info")
    assert {k: sent[k] for k in SP2D_INFO.__dataclass_fields__ if k in sent} == {
        "sp2d_number": SP2D,
        "satker_code": "415011",
        "satker_name": "KPPN Jakarta II",
        "spm_number": "00123T/415011/2026",
        "amount": "Rp15.000.000",
        "date": "2 Maret 2026",
        "status": "Sudah dicairkan",
    }
    assert_not_shown(dispatcher, ACCOUNT)
    assert slot_events(events) == CLEARED["sp2d"]


async def test_sp2d_not_found_shows_the_masked_account(settings, dispatcher):
    fake = FakeSp2d(error=NotFound("no such SP2D"))

    events = await run(ActionSp2dInfo(Services(settings, sp2d=fake)), SP2D_SLOTS, dispatcher)

    sent = only_message(dispatcher, "utter_sp2d_not_found")
    assert (sent["sp2d_number"], sent["account_masked"]) == (SP2D, "******7890")
    assert_not_shown(dispatcher, ACCOUNT)
    assert slot_events(events) == CLEARED["sp2d"]


async def test_sp2d_refusal_is_treated_as_unavailable(settings, dispatcher):
    fake = FakeSp2d(error=Rejected("invalid_request", "bad field", field="account_number"))

    await run(ActionSp2dInfo(Services(settings, sp2d=fake)), SP2D_SLOTS, dispatcher)

    assert only_message(dispatcher, "utter_backend_unavailable")["service"] == "SP2D"


# --- action_check_contract ------------------------------------------------------------


def registration(**changes: Any) -> ContractRegistration:
    base = ContractRegistration(
        satker_code="415011",
        contract_number="KTR-01/PPK/2026",
        registered=True,
        register_number="00123456789",
        registered_at=date(2026, 2, 1),
        kppn="KPPN Jakarta II",
    )
    return replace(base, **changes)


async def test_registered_contract_gives_its_register(settings, dispatcher):
    fake = FakeContracts(result=registration())
    action = ActionCheckContract(Services(settings, contracts=fake))

    events = await run(action, CONTRACT_SLOTS, dispatcher)

    assert fake.calls == [("check", "415011", "KTR-01/PPK/2026")]
    sent = only_message(dispatcher, "utter_contract_registered")
    assert {k: sent[k] for k in ("contract_number", "satker_code", "register_number")} == {
        "contract_number": "KTR-01/PPK/2026",
        "satker_code": "415011",
        "register_number": "00123456789",
    }
    assert (sent["registered_at"], sent["kppn"]) == ("1 Februari 2026", "KPPN Jakarta II")
    assert slot_events(events) == CLEARED["contract"]


async def test_registered_contract_without_details_shows_dashes(settings, dispatcher):
    fake = FakeContracts(result=registration(register_number=None, registered_at=None, kppn=None))

    await run(ActionCheckContract(Services(settings, contracts=fake)), CONTRACT_SLOTS, dispatcher)

    sent = only_message(dispatcher, "utter_contract_registered")
    assert (sent["register_number"], sent["registered_at"], sent["kppn"]) == ("-", "-", "-")


@pytest.mark.parametrize(("kppn", "shown"), [("KPPN Jakarta II", "KPPN Jakarta II"), (None, "-")])
async def test_contract_not_registered_yet(settings, dispatcher, kppn, shown):
    result = registration(
        contract_number="KTR-02/PPK/2026",
        registered=False,
        register_number=None,
        registered_at=None,
        kppn=kppn,
    )
    fake = FakeContracts(result=result)
    slots = {**CONTRACT_SLOTS, "contract_number": "KTR-02/PPK/2026"}

    events = await run(ActionCheckContract(Services(settings, contracts=fake)), slots, dispatcher)

    sent = only_message(dispatcher, "utter_contract_not_registered")
    assert (sent["contract_number"], sent["satker_code"], sent["kppn"]) == (
        "KTR-02/PPK/2026",
        "415011",
        shown,
    )
    assert slot_events(events) == CLEARED["contract"]


async def test_contract_not_found(settings, dispatcher):
    fake = FakeContracts(error=NotFound("no such contract"))

    events = await run(
        ActionCheckContract(Services(settings, contracts=fake)), CONTRACT_SLOTS, dispatcher
    )

    sent = only_message(dispatcher, "utter_contract_not_found")
    assert (sent["contract_number"], sent["satker_code"]) == ("KTR-01/PPK/2026", "415011")
    assert slot_events(events) == CLEARED["contract"]


# --- action_digit_service -------------------------------------------------------------


def digit_action(settings, fake: FakeDigit) -> ActionDigitService:
    return ActionDigitService(Services(settings, digit=fake))


async def test_digit_status_needs_no_email_and_masks_the_identity(settings, dispatcher):
    fake = FakeDigit(result=DigitUser("nik", "aktif", "bu***@ke***.go.id"))
    slots = {**DIGIT_SLOTS, "digit_service": "status", "digit_email": None}

    events = await run(digit_action(settings, fake), slots, dispatcher)

    assert fake.calls == [("user_status", "nik", NIK)]
    sent = only_message(dispatcher, "utter_digit_status")
    assert (sent["status"], sent["email_masked"]) == ("aktif", "bu***@ke***.go.id")
    assert (sent["digit_id_label"], sent["id_masked"]) == ("NIK", "************0001")
    assert_not_shown(dispatcher, NIK)
    assert slot_events(events) == CLEARED["digit"]


async def test_digit_nip_is_labelled_and_masked(settings, dispatcher):
    fake = FakeDigit(result=DigitUser("nip", "diblokir", "bu***@ke***.go.id"))
    slots = {"digit_service": "status", "digit_id_type": "nip", "digit_id_value": NIP}

    await run(digit_action(settings, fake), slots, dispatcher)

    assert fake.calls == [("user_status", "nip", NIP)]
    sent = only_message(dispatcher, "utter_digit_status")
    assert (sent["digit_id_label"], sent["id_masked"]) == ("NIP", "*" * 14 + "1001")
    assert_not_shown(dispatcher, NIP)


@pytest.mark.parametrize(
    ("matches", "response"),
    [(True, "utter_digit_email_matches"), (False, "utter_digit_email_differs")],
)
async def test_digit_email_check(settings, dispatcher, matches, response):
    fake = FakeDigit(result=DigitEmailCheck(matches, "bu***@ke***.go.id"))
    slots = {**DIGIT_SLOTS, "digit_service": "email_check"}

    events = await run(digit_action(settings, fake), slots, dispatcher)

    assert fake.calls == [("check_email", "nik", NIK, EMAIL)]
    sent = only_message(dispatcher, response)
    # The address typed is never confirmed in full (the reply stays in the chat history).
    assert (sent["email"], sent["email_masked"], sent["id_masked"]) == (
        "bu***@ke***.go.id",
        "bu***@ke***.go.id",
        "************0001",
    )
    assert_not_shown(dispatcher, NIK, EMAIL)
    assert slot_events(events) == CLEARED["digit"]


async def test_digit_replies_mask_an_address_a_backend_sent_whole(settings, dispatcher):
    fake = FakeDigit(result=DigitUser("nik", "aktif", "siti.aminah@contoh.go.id"))
    slots = {**DIGIT_SLOTS, "digit_service": "status", "digit_email": None}

    await run(digit_action(settings, fake), slots, dispatcher)

    assert only_message(dispatcher, "utter_digit_status")["email_masked"] == "si***@co***.go.id"
    assert_not_shown(dispatcher, NIK, "siti.aminah@contoh.go.id")


@pytest.mark.parametrize(
    ("service", "response"),
    [
        ("activation", "utter_digit_activation_sent"),
        ("reset", "utter_digit_reset_sent"),
        ("unblock", "utter_digit_unblock_sent"),
    ],
)
async def test_digit_request_tells_where_the_link_went(settings, dispatcher, service, response):
    fake = FakeDigit(result=DigitRequestResult("DGT-000123", service, "aktif", "bu***@ke***.go.id"))
    slots = {**DIGIT_SLOTS, "digit_service": service}

    events = await run(digit_action(settings, fake), slots, dispatcher)

    assert fake.calls == [("request", service, "nik", NIK, EMAIL)]
    sent = only_message(dispatcher, response)
    assert (sent["request_id"], sent["sent_to"]) == ("DGT-000123", "bu***@ke***.go.id")
    assert_not_shown(dispatcher, NIK)
    assert slot_events(events) == CLEARED["digit"]


async def test_digit_account_not_found(settings, dispatcher):
    fake = FakeDigit(error=NotFound("no DIGIT account"))

    events = await run(digit_action(settings, fake), DIGIT_SLOTS, dispatcher)

    sent = only_message(dispatcher, "utter_digit_not_found")
    assert (sent["digit_id_label"], sent["id_masked"]) == ("NIK", "************0001")
    assert_not_shown(dispatcher, NIK)
    assert slot_events(events) == CLEARED["digit"]


@pytest.mark.parametrize(
    ("code", "response"),
    [
        ("email_mismatch", "utter_digit_email_mismatch"),
        ("already_active", "utter_digit_already_active"),
        ("not_blocked", "utter_digit_not_blocked"),
        ("request_in_progress", "utter_digit_request_in_progress"),
        ("not_active", "utter_digit_not_active"),
        ("invalid_request", "utter_digit_rejected"),
    ],
)
async def test_digit_refusal_code_picks_the_reply(settings, dispatcher, code, response):
    fake = FakeDigit(error=Rejected(code, "refused"))

    events = await run(digit_action(settings, fake), DIGIT_SLOTS, dispatcher)

    sent = only_message(dispatcher, response)
    assert sent["email"] == "bu***@ke***.go.id"
    assert_not_shown(dispatcher, NIK, EMAIL)
    assert slot_events(events) == CLEARED["digit"]


@pytest.mark.parametrize("service", ["email_check", "activation", "reset", "unblock"])
async def test_digit_services_other_than_status_need_the_email(settings, dispatcher, service):
    fake = FakeDigit(error=AssertionError("must not be called"))
    slots = {**DIGIT_SLOTS, "digit_service": service, "digit_email": None}

    await run(digit_action(settings, fake), slots, dispatcher)

    assert responses(dispatcher) == ["utter_form_gave_up"]
    assert fake.calls == []


# --- action_sakti_reset ---------------------------------------------------------------


def sakti_action(settings, fake: FakeSakti) -> ActionSaktiReset:
    return ActionSaktiReset(Services(settings, sakti=fake))


@pytest.mark.parametrize(
    ("kind", "response"),
    [("password", "utter_sakti_password_reset"), ("mfa", "utter_sakti_mfa_reset")],
)
async def test_sakti_reset_is_sent_with_the_requester_phone(settings, dispatcher, kind, response):
    fake = FakeSakti(result=SaktiResetResult("SKT-000001", kind, "527010", "62812****7890"))
    slots = {**SAKTI_SLOTS, "sakti_kind": kind, "sakti_satker_code": "527010"}

    events = await run(sakti_action(settings, fake), slots, dispatcher)

    assert fake.calls == [("reset", kind, NIK, "527010", PHONE)]
    sent = only_message(dispatcher, response)
    assert (sent["satker_code"], sent["request_id"], sent["sms_to"]) == (
        "527010",
        "SKT-000001",
        "62812****7890",
    )
    assert_not_shown(dispatcher, NIK, PHONE)
    assert slot_events(events) == CLEARED["sakti"]


async def test_sakti_phone_from_rest_sender_is_normalised(settings, dispatcher):
    from dataclasses import replace

    # REST as an integrator's authenticated gateway (allowed only with a REST token).
    gateway = replace(settings, sakti_trusted_channels=("whatsapp", "rest"), rest_token="t" * 32)
    fake = FakeSakti(result=SaktiResetResult("SKT-000002", "password", "415011", "62812****7890"))

    await run(
        sakti_action(gateway, fake),
        SAKTI_SLOTS,
        dispatcher,
        channel="rest",
        sender_id="0812 3456 7890",
    )

    assert fake.calls == [("reset", "password", NIK, "415011", PHONE)]


@pytest.mark.parametrize(
    ("channel", "sender_id"),
    [
        ("socketio", PHONE),
        ("whatsapp", "session-abc"),
        ("rest", PHONE),  # REST is not trusted by default: anyone can claim a number there
    ],
)
async def test_sakti_reset_refused_when_the_phone_is_unknown(
    settings, dispatcher, channel, sender_id
):
    fake = FakeSakti(error=AssertionError("must not be called"))

    events = await run(
        sakti_action(settings, fake), SAKTI_SLOTS, dispatcher, channel=channel, sender_id=sender_id
    )

    assert responses(dispatcher) == ["utter_sakti_refused"]
    assert fake.calls == []
    assert slot_events(events) == CLEARED["sakti"]


async def test_sakti_reset_ignores_a_channel_claimed_in_session_metadata(settings, dispatcher):
    fake = FakeSakti(result=SaktiResetResult("SKT-000003", "password", "415011", "62812****7890"))
    slots = {**SAKTI_SLOTS, "session_started_metadata": {"channel": "whatsapp"}}

    await run(sakti_action(settings, fake), slots, dispatcher, channel="socketio")

    assert fake.calls == []
    assert responses(dispatcher) == ["utter_sakti_refused"]


async def test_sakti_reset_refused_by_the_backend(settings, dispatcher):
    fake = FakeSakti(error=Rejected("requester_not_owner", "not the owner"))

    events = await run(sakti_action(settings, fake), SAKTI_SLOTS, dispatcher)

    assert responses(dispatcher) == ["utter_sakti_refused"]
    assert len(fake.calls) == 1
    assert slot_events(events) == CLEARED["sakti"]


@pytest.mark.parametrize(
    ("options", "listed"),
    [(SAKTI_SLOTS["sakti_satker_options"], "415011, 527010"), (None, "-")],
)
async def test_sakti_satker_not_registered_lists_the_options(settings, dispatcher, options, listed):
    fake = FakeSakti(error=NotFound("not a user in this satker"))
    slots = {**SAKTI_SLOTS, "sakti_satker_code": "634512", "sakti_satker_options": options}

    events = await run(sakti_action(settings, fake), slots, dispatcher)

    sent = only_message(dispatcher, "utter_sakti_satker_not_registered")
    assert (sent["satker_code"], sent["satker_list"]) == ("634512", listed)
    assert slot_events(events) == CLEARED["sakti"]


async def test_sakti_unknown_kind_gives_up(settings, dispatcher):
    fake = FakeSakti(error=AssertionError("must not be called"))

    await run(sakti_action(settings, fake), {**SAKTI_SLOTS, "sakti_kind": "token"}, dispatcher)

    assert responses(dispatcher) == ["utter_form_gave_up"]
    assert fake.calls == []


# --- the real clients against the real simulator ----------------------------------------


@pytest.fixture(scope="module")
def simulator_url():
    simulator = pytest.importorskip("helpdesk.backends.simulator")
    fixtures = pytest.importorskip("helpdesk.backends.fixtures")
    if not hasattr(simulator, "make_server") or not hasattr(fixtures, "load_fixtures"):
        pytest.skip("the backend simulator is not finished (make_server / load_fixtures)")
    path = PROJECT_ROOT / "helpdesk" / "backends" / "fixtures.json"
    if not path.is_file():
        pytest.skip("helpdesk/backends/fixtures.json is not there yet")
    server = simulator.make_server(fixtures.load_fixtures(path), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def live_services(settings, simulator_url):
    """Services whose backend clients are the real ones, pointed at the simulator."""
    services = Services(replace(settings, backend_url=simulator_url, backend_timeout=4.0))
    yield services
    services.backend_http.close()


def nik_typed(sender_id: str):
    """The SAKTI form's tracker right after the NIK was typed on WhatsApp by `sender_id`."""
    events = [
        {"event": "user", "text": NIK, "parse_data": {}, "input_channel": "whatsapp"},
        {"event": "slot", "name": "sakti_nik", "value": NIK},
    ]
    slots = {**_RESET, "sakti_kind": "password", "sakti_nik": NIK, "requested_slot": "sakti_nik"}
    return make_tracker(
        NIK,
        intent="inform",
        slots=slots,
        active_loop="sakti_form",
        events=events,
        sender_id=sender_id,
    )


async def test_live_sp2d_found(live_services, dispatcher):
    events = await run(ActionSp2dInfo(live_services), SP2D_SLOTS, dispatcher)

    sent = only_message(dispatcher, "utter_sp2d_info")
    assert (sent["satker_code"], sent["satker_name"]) == ("415011", "KPPN Jakarta II")
    assert (sent["amount"], sent["date"], sent["status"]) == (
        "Rp15.000.000",
        "2 Maret 2026",
        "Sudah dicairkan",
    )
    assert_not_shown(dispatcher, ACCOUNT)
    assert slot_events(events) == CLEARED["sp2d"]


async def test_live_sp2d_fault_injected_unavailable(live_services, dispatcher):
    slots = {"sp2d_number": "260011301999999", "sp2d_account": "1111111111"}

    await run(ActionSp2dInfo(live_services), slots, dispatcher)

    assert only_message(dispatcher, "utter_backend_unavailable")["service"] == "SP2D"


async def test_live_contracts_registered_and_not(live_services, dispatcher):
    action = ActionCheckContract(live_services)

    await run(action, CONTRACT_SLOTS, dispatcher)
    await run(action, {**CONTRACT_SLOTS, "contract_number": "KTR-02/PPK/2026"}, dispatcher)

    assert responses(dispatcher) == ["utter_contract_registered", "utter_contract_not_registered"]
    registered = dispatcher.messages[0]
    assert (registered["register_number"], registered["registered_at"]) == (
        "00123456789",
        "1 Februari 2026",
    )
    assert dispatcher.messages[1]["contract_number"] == "KTR-02/PPK/2026"


async def test_live_digit_status(live_services, dispatcher):
    slots = {"digit_service": "status", "digit_id_type": "nik", "digit_id_value": NIK}

    await run(ActionDigitService(live_services), slots, dispatcher)

    sent = only_message(dispatcher, "utter_digit_status")
    assert (sent["status"], sent["id_masked"]) == ("aktif", "************0001")
    assert "@" in sent["email_masked"] and EMAIL not in sent["email_masked"]


async def test_live_sakti_owner_check_and_reset(live_services, dispatcher):
    form = ValidateSaktiForm(live_services)

    checked = slot_events(await form.run(dispatcher, nik_typed(PHONE), domain_dict()))

    assert checked["sakti_nik"] == NIK
    assert [o["code"] for o in checked["sakti_satker_options"]] == ["415011", "527010"]
    assert dispatcher.messages == []

    await run(ActionSaktiReset(live_services), SAKTI_SLOTS, dispatcher)

    sent = only_message(dispatcher, "utter_sakti_password_reset")
    assert sent["satker_code"] == "415011"
    assert_not_shown(dispatcher, NIK, PHONE)


async def test_live_sakti_other_phone_is_refused(live_services, dispatcher):
    form = ValidateSaktiForm(live_services)

    events = await form.run(dispatcher, nik_typed(OTHER_PHONE), domain_dict())

    assert responses(dispatcher) == ["utter_sakti_refused"]
    assert slot_events(events) == {"sakti_nik": None, "requested_slot": None, "form_stopped": True}

    other = CollectingDispatcher()
    await run(ActionSaktiReset(live_services), SAKTI_SLOTS, other, sender_id=OTHER_PHONE)
    assert [m["response"] for m in other.messages] == ["utter_sakti_refused"]
