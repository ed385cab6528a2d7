"""Tests of the four backend clients (parsing, errors, retries, argument checks) and of their
wiring in `Services`."""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest
import requests
import responses

from helpdesk.backends.contracts import ContractClient
from helpdesk.backends.digit import DigitClient
from helpdesk.backends.errors import BackendUnavailable, NotFound, Rejected
from helpdesk.backends.http import BackendHttp
from helpdesk.backends.models import (
    ContractRegistration,
    DigitEmailCheck,
    DigitRequestResult,
    DigitUser,
    SaktiResetResult,
    SaktiSatker,
    Sp2dInfo,
)
from helpdesk.backends.sakti import SaktiClient
from helpdesk.backends.sp2d import Sp2dClient
from helpdesk.services import Services
from helpdesk.settings import Settings

BASE = "http://backend.test"

NIK = "3201234567890001"
NIP = "198001012005011001"
PHONE = "6281234567890"
ACCOUNT = "1234567890"
EMAIL = "budi.santoso@kemenkeu.go.id"
SP2D = "260011301000123"

SP2D_INFO = {
    "sp2d_number": SP2D,
    "satker_code": "415011",
    "satker_name": "KPPN Jakarta II",
    "spm_number": "00123/SPM/2026",
    "amount": 150000000,
    "date": "2026-01-15",
    "status": "Sudah dicairkan",
}
CONTRACT = {
    "satker_code": "415011",
    "contract_number": "KTR-01/PPK/2026",
    "registered": True,
    "register_number": "RK-2026-000123",
    "registered_at": "2026-01-20",
    "kppn": "KPPN Jakarta II",
}
DIGIT_USER = {"id_type": "nik", "status": "aktif", "email_masked": "bu***@ke***.go.id"}
EMAIL_CHECK = {"matches": True, "email_masked": "bu***@ke***.go.id"}
DIGIT_RESULT = {
    "request_id": "DGT-0001",
    "action": "reset",
    "status": "proses reset",
    "sent_to": "bu***@ke***.go.id",
}
SATKERS = {
    "satkers": [
        {"satker_code": "415011", "satker_name": "KPPN Jakarta II"},
        {"satker_code": "527010", "satker_name": None},
    ]
}
SAKTI_RESULT = {
    "request_id": "SKT-0001",
    "kind": "password",
    "satker_code": "415011",
    "sms_to": "62812****7890",
}


class Recorder:
    """Sleep and clock for `BackendHttp`: time only moves when it sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def http(recorder):
    backend = BackendHttp(BASE, timeout=4.0, retries=3, sleep=recorder.sleep, clock=recorder.clock)
    yield backend
    backend.close()


def sent(mocked, index: int = 0) -> dict:
    return json.loads(mocked.calls[index].request.body)


def error_body(code: str, message: str = "refused", field: str | None = None) -> dict:
    error: dict = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


# Each call: (path, documented success status, response, function calling the client).
CALLS = {
    "sp2d.lookup": (
        "/v1/sp2d/lookup",
        200,
        SP2D_INFO,
        lambda http: Sp2dClient(http).lookup(SP2D, ACCOUNT),
    ),
    "contracts.check": (
        "/v1/contracts/lookup",
        200,
        CONTRACT,
        lambda http: ContractClient(http).check("415011", "KTR-01/PPK/2026"),
    ),
    "digit.user_status": (
        "/v1/digit/users/lookup",
        200,
        DIGIT_USER,
        lambda http: DigitClient(http).user_status("nik", NIK),
    ),
    "digit.check_email": (
        "/v1/digit/users/email-check",
        200,
        EMAIL_CHECK,
        lambda http: DigitClient(http).check_email("nip", NIP, EMAIL),
    ),
    "digit.request": (
        "/v1/digit/requests",
        202,
        DIGIT_RESULT,
        lambda http: DigitClient(http).request("reset", "nik", NIK, EMAIL),
    ),
    "sakti.satkers": (
        "/v1/sakti/users/satkers",
        200,
        SATKERS,
        lambda http: SaktiClient(http).satkers(NIK, PHONE),
    ),
    "sakti.reset": (
        "/v1/sakti/resets",
        202,
        SAKTI_RESULT,
        lambda http: SaktiClient(http).reset("password", NIK, "415011", PHONE),
    ),
}
IDEMPOTENT = ["sp2d.lookup", "contracts.check", "digit.user_status", "digit.check_email"]
IDEMPOTENT += ["sakti.satkers"]
STATE_CHANGES = ["digit.request", "sakti.reset"]


# --- success parsing -----------------------------------------------------------------------


def test_sp2d_lookup(mocked, http):
    mocked.post(BASE + "/v1/sp2d/lookup", json=SP2D_INFO, status=200)

    info = Sp2dClient(http).lookup(SP2D, ACCOUNT)

    assert info == Sp2dInfo(
        sp2d_number=SP2D,
        satker_code="415011",
        satker_name="KPPN Jakarta II",
        spm_number="00123/SPM/2026",
        amount=150000000,
        date=date(2026, 1, 15),
        status="Sudah dicairkan",
    )
    assert sent(mocked) == {"sp2d_number": SP2D, "account_number": ACCOUNT}


def test_contract_check_registered(mocked, http):
    mocked.post(BASE + "/v1/contracts/lookup", json=CONTRACT, status=200)

    registration = ContractClient(http).check("415011", "KTR-01/PPK/2026")

    assert registration == ContractRegistration(
        satker_code="415011",
        contract_number="KTR-01/PPK/2026",
        registered=True,
        register_number="RK-2026-000123",
        registered_at=date(2026, 1, 20),
        kppn="KPPN Jakarta II",
    )
    assert sent(mocked) == {"satker_code": "415011", "contract_number": "KTR-01/PPK/2026"}


def test_contract_check_not_registered_yet(mocked, http):
    body = dict(CONTRACT, registered=False, register_number=None, registered_at=None, kppn=None)
    mocked.post(BASE + "/v1/contracts/lookup", json=body, status=200)

    registration = ContractClient(http).check("415011", "KTR-01/PPK/2026")

    assert registration.registered is False
    assert registration.register_number is None
    assert registration.registered_at is None
    assert registration.kppn is None


def test_digit_user_status(mocked, http):
    mocked.post(BASE + "/v1/digit/users/lookup", json=DIGIT_USER, status=200)

    user = DigitClient(http).user_status("nik", NIK)

    assert user == DigitUser(id_type="nik", status="aktif", email_masked="bu***@ke***.go.id")
    assert sent(mocked) == {"id_type": "nik", "id_value": NIK}


@pytest.mark.parametrize("matches", [True, False])
def test_digit_check_email(mocked, http, matches):
    body = dict(EMAIL_CHECK, matches=matches)
    mocked.post(BASE + "/v1/digit/users/email-check", json=body, status=200)

    check = DigitClient(http).check_email("nip", NIP, EMAIL)

    assert check == DigitEmailCheck(matches=matches, email_masked="bu***@ke***.go.id")
    assert sent(mocked) == {"id_type": "nip", "id_value": NIP, "email": EMAIL}


def test_digit_request(mocked, http):
    mocked.post(BASE + "/v1/digit/requests", json=DIGIT_RESULT, status=202)

    result = DigitClient(http).request("reset", "nik", NIK, EMAIL)

    assert result == DigitRequestResult(
        request_id="DGT-0001", action="reset", status="proses reset", sent_to="bu***@ke***.go.id"
    )
    assert sent(mocked) == {"action": "reset", "id_type": "nik", "id_value": NIK, "email": EMAIL}


def test_sakti_satkers(mocked, http):
    mocked.post(BASE + "/v1/sakti/users/satkers", json=SATKERS, status=200)

    satkers = SaktiClient(http).satkers(NIK, PHONE)

    assert satkers == [
        SaktiSatker(satker_code="415011", satker_name="KPPN Jakarta II"),
        SaktiSatker(satker_code="527010", satker_name=None),
    ]
    assert sent(mocked) == {"nik": NIK, "requester_phone": PHONE}


@pytest.mark.parametrize("kind", ["password", "mfa"])
def test_sakti_reset(mocked, http, kind):
    mocked.post(BASE + "/v1/sakti/resets", json=dict(SAKTI_RESULT, kind=kind), status=202)

    result = SaktiClient(http).reset(kind, NIK, "415011", PHONE)

    assert result == SaktiResetResult(
        request_id="SKT-0001", kind=kind, satker_code="415011", sms_to="62812****7890"
    )
    assert sent(mocked) == {
        "kind": kind,
        "nik": NIK,
        "satker_code": "415011",
        "requester_phone": PHONE,
    }


def test_extra_response_fields_are_ignored(mocked, http):
    mocked.post(BASE + "/v1/sp2d/lookup", json=dict(SP2D_INFO, bank="BRI"), status=200)

    assert Sp2dClient(http).lookup(SP2D, ACCOUNT).satker_code == "415011"


# --- errors of every call ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CALLS))
def test_404_is_not_found(mocked, http, name):
    path, _, _, call = CALLS[name]
    mocked.post(BASE + path, json=error_body("not_found", "no such record"), status=404)

    with pytest.raises(NotFound):
        call(http)


@pytest.mark.parametrize(
    ("name", "status", "code", "field"),
    [
        ("sp2d.lookup", 422, "invalid_request", "account_number"),
        ("contracts.check", 422, "invalid_request", "contract_number"),
        ("digit.user_status", 422, "invalid_request", "id_value"),
        ("digit.check_email", 422, "invalid_request", "email"),
        ("digit.request", 409, "email_mismatch", None),
        ("digit.request", 409, "already_active", None),
        ("digit.request", 409, "not_blocked", None),
        ("digit.request", 409, "request_in_progress", None),
        ("sakti.satkers", 403, "requester_not_owner", None),
        ("sakti.reset", 403, "requester_not_owner", None),
        ("sakti.reset", 422, "invalid_request", "satker_code"),
    ],
)
def test_refusals_are_rejected_with_code_and_field(mocked, http, name, status, code, field):
    path, _, _, call = CALLS[name]
    mocked.post(BASE + path, json=error_body(code, "refused", field), status=status)

    with pytest.raises(Rejected) as caught:
        call(http)

    assert (caught.value.code, caught.value.field) == (code, field)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "json": {"error": {"code": "unavailable", "message": "boom"}}},
        {"status": 502, "body": "Bad Gateway"},
        {"status": 503, "json": {"error": {"code": "unavailable", "message": "down"}}},
        {"status": 504, "body": "Gateway Timeout"},
        {"status": 401, "json": {"error": {"code": "unauthorized", "message": "key"}}},
        {"body": requests.exceptions.ConnectionError("refused")},
        {"body": requests.exceptions.ReadTimeout("slow")},
    ],
    ids=["500", "502", "503", "504", "401", "connection-error", "timeout"],
)
def test_failures_are_unavailable(mocked, http, name, failure):
    path, _, _, call = CALLS[name]
    mocked.post(BASE + path, **failure)

    with pytest.raises(BackendUnavailable):
        call(http)


# --- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", IDEMPOTENT)
def test_lookups_are_retried_up_to_the_limit(mocked, http, recorder, name):
    path, _, _, call = CALLS[name]
    mocked.post(BASE + path, json=error_body("unavailable", "down"), status=503)

    with pytest.raises(BackendUnavailable):
        call(http)

    assert len(mocked.calls) == 3
    assert recorder.sleeps == [0.2, 0.4]


@pytest.mark.parametrize("name", IDEMPOTENT)
def test_lookups_succeed_after_a_connection_error(mocked, http, name):
    path, status, body, call = CALLS[name]
    mocked.post(BASE + path, body=requests.exceptions.ConnectionError("refused"))
    mocked.post(BASE + path, json=body, status=status)

    assert call(http) is not None
    assert len(mocked.calls) == 2


@pytest.mark.parametrize("name", IDEMPOTENT)
def test_lookups_are_not_retried_after_a_read_timeout(mocked, http, name):
    path, status, body, call = CALLS[name]
    mocked.post(BASE + path, body=requests.exceptions.ReadTimeout("slow"))
    mocked.post(BASE + path, json=body, status=status)

    with pytest.raises(BackendUnavailable):
        call(http)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("name", STATE_CHANGES)
@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503, "json": {"error": {"code": "unavailable", "message": "down"}}},
        {"status": 502, "body": "Bad Gateway"},
        {"body": requests.exceptions.ConnectionError("refused")},
    ],
    ids=["503", "502", "connection-error"],
)
def test_state_changes_are_never_retried(mocked, http, recorder, name, failure):
    path, status, body, call = CALLS[name]
    mocked.post(BASE + path, **failure)
    mocked.post(BASE + path, json=body, status=status)

    with pytest.raises(BackendUnavailable):
        call(http)

    assert len(mocked.calls) == 1
    assert recorder.sleeps == []


@pytest.mark.parametrize("name", list(CALLS))
def test_the_wrong_success_status_is_unavailable(mocked, http, name):
    path, status, body, call = CALLS[name]
    mocked.post(BASE + path, json=body, status=202 if status == 200 else 200)

    with pytest.raises(BackendUnavailable):
        call(http)


# --- garbage -------------------------------------------------------------------------------

GARBAGE_FOR_EVERY_CALL = [None, 0, "text", [], [{}], {}, {"error": "x"}, {"satkers": None}]


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("garbage", GARBAGE_FOR_EVERY_CALL, ids=repr)
def test_garbage_json_is_unavailable(mocked, http, name, garbage):
    path, status, _, call = CALLS[name]
    mocked.post(BASE + path, body=json.dumps(garbage), status=status)

    with pytest.raises(BackendUnavailable):
        call(http)


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("body", ["", "<html>ok</html>", "{", "[1]"])
def test_non_json_or_non_object_bodies_are_unavailable(mocked, http, name, body):
    path, status, _, call = CALLS[name]
    mocked.post(BASE + path, body=body, status=status)

    with pytest.raises(BackendUnavailable):
        call(http)


def _required_fields():
    for name, (_, _, body, _) in CALLS.items():
        for key in body:
            yield name, key


@pytest.mark.parametrize(("name", "key"), list(_required_fields()))
def test_a_missing_required_field_is_unavailable(mocked, http, name, key):
    path, status, body, call = CALLS[name]
    broken = {k: v for k, v in body.items() if k != key}
    mocked.post(BASE + path, json=broken, status=status)

    with pytest.raises(BackendUnavailable, match=f"{key!r} is missing"):
        call(http)


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("sp2d.lookup", "sp2d_number", 260011301000123),
        ("sp2d.lookup", "sp2d_number", "26001130100012"),
        ("sp2d.lookup", "satker_code", "41501"),
        ("sp2d.lookup", "satker_code", None),
        ("sp2d.lookup", "satker_name", None),
        ("sp2d.lookup", "spm_number", 123),
        ("sp2d.lookup", "amount", "150000000"),
        ("sp2d.lookup", "amount", 1.5e8),
        ("sp2d.lookup", "amount", True),
        ("sp2d.lookup", "amount", -1),
        ("sp2d.lookup", "date", "15-01-2026"),
        ("sp2d.lookup", "date", "2026-02-30"),
        ("sp2d.lookup", "date", "2026-01-15T10:00:00"),
        ("sp2d.lookup", "date", None),
        ("sp2d.lookup", "date", 20260115),
        ("sp2d.lookup", "status", ["Sudah dicairkan"]),
        ("contracts.check", "registered", "true"),
        ("contracts.check", "registered", 1),
        ("contracts.check", "registered", None),
        ("contracts.check", "registered_at", "kemarin"),
        ("contracts.check", "registered_at", 0),
        ("contracts.check", "register_number", 123),
        ("contracts.check", "kppn", {"name": "x"}),
        ("contracts.check", "contract_number", None),
        ("digit.user_status", "status", "active"),
        ("digit.user_status", "id_type", "passport"),
        ("digit.user_status", "email_masked", None),
        ("digit.check_email", "matches", "yes"),
        ("digit.check_email", "email_masked", 1),
        ("digit.request", "action", "delete"),
        ("digit.request", "status", None),
        ("digit.request", "request_id", 7),
        ("digit.request", "sent_to", None),
        ("sakti.satkers", "satkers", []),
        ("sakti.satkers", "satkers", {"satker_code": "415011"}),
        ("sakti.satkers", "satkers", ["415011"]),
        ("sakti.satkers", "satkers", [{"satker_code": 415011, "satker_name": "x"}]),
        ("sakti.satkers", "satkers", [{"satker_name": "x"}]),
        ("sakti.satkers", "satkers", [{"satker_code": "415011", "satker_name": 1}]),
        ("sakti.satkers", "satkers", [{"satker_code": "415011"}]),
        ("sakti.reset", "kind", "pin"),
        ("sakti.reset", "satker_code", "ABCDEF"),
        ("sakti.reset", "sms_to", None),
        ("sakti.reset", "request_id", None),
    ],
)
def test_a_field_of_the_wrong_type_or_shape_is_unavailable(mocked, http, name, key, value):
    path, status, body, call = CALLS[name]
    mocked.post(BASE + path, json=dict(body, **{key: value}), status=status)

    with pytest.raises(BackendUnavailable, match="answered off the spec"):
        call(http)


# --- argument checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda http: Sp2dClient(http).lookup("26001130100012", ACCOUNT),
        lambda http: Sp2dClient(http).lookup(SP2D, "1234"),
        lambda http: Sp2dClient(http).lookup(SP2D, "12345-6789"),
        lambda http: Sp2dClient(http).lookup(int(SP2D), ACCOUNT),
        lambda http: ContractClient(http).check("41501", "KTR-01/PPK/2026"),
        lambda http: ContractClient(http).check("415011", "KT"),
        lambda http: ContractClient(http).check("415011", "K" * 101),
        lambda http: DigitClient(http).user_status("passport", NIK),
        lambda http: DigitClient(http).user_status("nik", "1234"),
        lambda http: DigitClient(http).user_status("nik", "3201234567890001234"),
        lambda http: DigitClient(http).user_status("nik", "٣٢٠١٢٣٤٥٦٧٨٩"),
        lambda http: DigitClient(http).check_email("nik", NIK, "a"),
        lambda http: DigitClient(http).check_email("nik", NIK, None),
        lambda http: DigitClient(http).request("delete", "nik", NIK, EMAIL),
        lambda http: DigitClient(http).request("reset", "nik", NIK, ""),
        lambda http: SaktiClient(http).satkers("320123456789000", PHONE),
        lambda http: SaktiClient(http).satkers(NIK, "081234567890"),
        lambda http: SaktiClient(http).satkers(NIK, "+6281234567890"),
        lambda http: SaktiClient(http).satkers(NIK, "621234567"),
        lambda http: SaktiClient(http).reset("pin", NIK, "415011", PHONE),
        lambda http: SaktiClient(http).reset("mfa", NIK, "4150", PHONE),
        lambda http: SaktiClient(http).reset("mfa", "1", "415011", PHONE),
    ],
)
def test_malformed_arguments_raise_value_error_before_sending(mocked, http, call):
    with pytest.raises(ValueError) as caught:
        call(http)

    assert len(mocked.calls) == 0
    for secret in (NIK, PHONE, ACCOUNT, EMAIL, SP2D):
        assert secret not in str(caught.value)


# --- no personal data in logs or exceptions ------------------------------------------------


def test_no_identifier_reaches_logs_or_exceptions(mocked, http, caplog):
    caplog.set_level(logging.DEBUG)
    echo = f"{NIK} {NIP} {PHONE} {ACCOUNT} {EMAIL}"
    bad_sp2d = dict(SP2D_INFO, amount=NIK)
    mocked.post(BASE + "/v1/sp2d/lookup", json=SP2D_INFO, status=200)
    mocked.post(BASE + "/v1/sp2d/lookup", json=bad_sp2d, status=200)
    mocked.post(BASE + "/v1/sp2d/lookup", json=error_body("not_found", echo), status=404)
    mocked.post(BASE + "/v1/digit/users/email-check", json=EMAIL_CHECK, status=200)
    mocked.post(
        BASE + "/v1/digit/users/email-check",
        json=error_body("invalid_request", echo, "email"),
        status=422,
    )
    mocked.post(BASE + "/v1/digit/requests", json=error_body("email_mismatch", echo), status=409)
    mocked.post(BASE + "/v1/sakti/users/satkers", json=SATKERS, status=200)
    mocked.post(
        BASE + "/v1/sakti/users/satkers", json=error_body("requester_not_owner", echo), status=403
    )
    mocked.post(BASE + "/v1/sakti/resets", body=requests.exceptions.ConnectionError(echo))
    mocked.post(BASE + "/v1/digit/users/lookup", json=error_body("unavailable", echo), status=503)

    sp2d, digit, sakti = Sp2dClient(http), DigitClient(http), SaktiClient(http)
    texts: list[str] = []

    def expect_error(call) -> None:
        with pytest.raises((BackendUnavailable, NotFound, Rejected)) as caught:
            call()
        texts.extend([str(caught.value), repr(caught.value), str(caught.value.args)])
        if isinstance(caught.value, Rejected):
            texts.append(caught.value.message)

    sp2d.lookup(SP2D, ACCOUNT)
    expect_error(lambda: sp2d.lookup(SP2D, ACCOUNT))
    expect_error(lambda: sp2d.lookup(SP2D, ACCOUNT))
    digit.check_email("nip", NIP, EMAIL)
    expect_error(lambda: digit.check_email("nip", NIP, EMAIL))
    expect_error(lambda: digit.request("reset", "nik", NIK, EMAIL))
    sakti.satkers(NIK, PHONE)
    expect_error(lambda: sakti.satkers(NIK, PHONE))
    expect_error(lambda: sakti.reset("mfa", NIK, "415011", PHONE))
    expect_error(lambda: digit.user_status("nik", NIK))

    assert caplog.records, "the calls should be logged"
    texts += [record.getMessage() for record in caplog.records]
    for text in texts:
        for secret in (NIK, NIP, PHONE, ACCOUNT, EMAIL):
            assert secret not in text, text


# --- Services wiring -----------------------------------------------------------------------


def test_services_build_each_client_once_on_one_shared_session(monkeypatch):
    built: list[BackendHttp] = []
    original = BackendHttp.from_settings.__func__

    def counting(cls, settings):
        backend = original(cls, settings)
        built.append(backend)
        return backend

    monkeypatch.setattr(BackendHttp, "from_settings", classmethod(counting))
    services = Services(Settings(backend_url=BASE, backend_api_key="k"))

    clients = [services.sp2d, services.contracts, services.digit, services.sakti]

    assert [type(c) for c in clients] == [Sp2dClient, ContractClient, DigitClient, SaktiClient]
    again = [services.sp2d, services.contracts, services.digit, services.sakti]
    assert all(first is second for first, second in zip(clients, again))
    assert len(built) == 1
    assert all(client.http is services.backend_http for client in clients)
    assert services.backend_http.session.headers["X-API-Key"] == "k"
    services.backend_http.close()


def test_services_send_every_client_through_the_same_session(mocked, monkeypatch):
    services = Services(Settings(backend_url=BASE))
    used: list[int] = []
    original = requests.Session.post

    def spy(self, *args, **kwargs):
        used.append(id(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "post", spy)
    for name in ("sp2d.lookup", "contracts.check", "digit.user_status", "sakti.satkers"):
        path, status, body, _ = CALLS[name]
        mocked.post(BASE + path, json=body, status=status)

    services.sp2d.lookup(SP2D, ACCOUNT)
    services.contracts.check("415011", "KTR-01/PPK/2026")
    services.digit.user_status("nik", NIK)
    services.sakti.satkers(NIK, PHONE)

    assert used == [id(services.backend_http.session)] * 4
    services.backend_http.close()


def test_services_use_injected_clients_without_building_http(monkeypatch):
    def fail(cls, settings):
        raise AssertionError("backend_http must not be built when clients are injected")

    monkeypatch.setattr(BackendHttp, "from_settings", classmethod(fail))
    fakes = {name: object() for name in ("sp2d", "contracts", "digit", "sakti")}

    services = Services(Settings(), **fakes)

    assert services.sp2d is fakes["sp2d"]
    assert services.contracts is fakes["contracts"]
    assert services.digit is fakes["digit"]
    assert services.sakti is fakes["sakti"]


def test_services_build_nothing_before_first_use(monkeypatch):
    def fail(cls, settings):
        raise AssertionError("built too early")

    monkeypatch.setattr(BackendHttp, "from_settings", classmethod(fail))

    Services(Settings())
