"""Tests of `BackendHttp`: status mapping, retries, time budget, headers, session, logs."""

from __future__ import annotations

import json
import logging

import pytest
import requests
import responses

from helpdesk.backends.decoding import ResponseReader, scrub
from helpdesk.backends.errors import BackendUnavailable, NotFound, Rejected
from helpdesk.backends.http import BackendHttp
from helpdesk.settings import Settings

BASE = "http://backend.test"
PATH = "/v1/sp2d/lookup"
URL = BASE + PATH
BODY = {"sp2d_number": "260011301000123", "account_number": "1234567890"}


class FakeClock:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_http(clock: FakeClock, **kwargs) -> BackendHttp:
    kwargs.setdefault("timeout", 4.0)
    kwargs.setdefault("retries", 2)
    return BackendHttp(BASE, sleep=clock.sleep, clock=clock, **kwargs)


@pytest.fixture
def http(clock):
    backend = make_http(clock)
    yield backend
    backend.close()


def error_body(code: str, message: str = "refused", field: str | None = None) -> dict:
    error: dict = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


# --- success -------------------------------------------------------------------------------


def test_post_returns_the_json_object_and_sends_the_body(mocked, http):
    mocked.post(URL, json={"ok": True}, status=200)

    assert http.post(PATH, BODY, idempotent=True) == {"ok": True}

    request = mocked.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert json.loads(request.body) == BODY


def test_post_accepts_the_documented_202(mocked, http):
    mocked.post(URL, json={"request_id": "R1"}, status=202)

    assert http.post(PATH, BODY, idempotent=False, expected_status=202) == {"request_id": "R1"}


@pytest.mark.parametrize(("expected", "actual"), [(200, 202), (202, 200), (200, 201), (200, 206)])
def test_a_success_status_other_than_the_documented_one_is_off_the_spec(
    mocked, http, expected, actual
):
    mocked.post(URL, json={"ok": True}, status=actual)

    with pytest.raises(BackendUnavailable, match=f"undocumented status {actual}"):
        http.post(PATH, BODY, idempotent=True, expected_status=expected)


def test_timeouts_are_explicit_connect_and_read(mocked, http):
    mocked.post(URL, json={}, status=200)

    http.post(PATH, BODY, idempotent=True)

    assert mocked.calls[0].request.req_kwargs["timeout"] == (2.0, 4.0)


def test_connect_timeout_never_exceeds_the_whole_budget(mocked, clock):
    mocked.post(URL, json={}, status=200)
    backend = make_http(clock, timeout=1.5)

    backend.post(PATH, BODY, idempotent=True)

    assert mocked.calls[0].request.req_kwargs["timeout"] == (1.5, 1.5)


def test_redirects_are_not_followed(mocked, http):
    mocked.post(URL, status=307, headers={"Location": "http://elsewhere.test/v1/sp2d/lookup"})

    with pytest.raises(BackendUnavailable, match="undocumented status 307"):
        http.post(PATH, BODY, idempotent=True)
    assert len(mocked.calls) == 1


# --- documented errors ---------------------------------------------------------------------


def test_404_is_not_found(mocked, http):
    mocked.post(URL, json=error_body("not_found", "no such SP2D"), status=404)

    with pytest.raises(NotFound, match="not_found"):
        http.post(PATH, BODY, idempotent=True)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("status", "code", "field"),
    [
        (403, "requester_not_owner", None),
        (409, "email_mismatch", None),
        (409, "request_in_progress", None),
        (422, "invalid_request", "account_number"),
    ],
)
def test_403_409_422_are_rejected_with_code_and_field(mocked, http, status, code, field):
    mocked.post(URL, json=error_body(code, "refused", field), status=status)

    with pytest.raises(Rejected) as caught:
        http.post(PATH, BODY, idempotent=True)

    assert caught.value.code == code
    assert caught.value.field == field
    assert caught.value.message == "refused"
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("status", [403, 404, 409, 422])
@pytest.mark.parametrize(
    "body",
    [
        "<html>Not Found</html>",
        "[]",
        '{"error": "nope"}',
        '{"detail": "nope"}',
        '{"error": {"message": "no code"}}',
        '{"error": {"code": "", "message": "empty code"}}',
        '{"error": {"code": 42, "message": "numeric code"}}',
        '{"error": {"code": "not_found"}}',
        '{"error": {"code": "invalid_request", "message": "m", "field": 3}}',
    ],
)
def test_documented_error_status_without_an_error_body_is_unavailable(mocked, http, status, body):
    mocked.post(URL, body=body, status=status)

    with pytest.raises(BackendUnavailable, match=f"{status} without an Error body"):
        http.post(PATH, BODY, idempotent=True)


def test_401_is_unavailable_and_hints_at_the_api_key(mocked, http):
    mocked.post(URL, json=error_body("unauthorized", "bad key"), status=401)

    with pytest.raises(BackendUnavailable, match="HELPDESK_BACKEND_API_KEY"):
        http.post(PATH, BODY, idempotent=True)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable(mocked, http, status):
    mocked.post(URL, json=error_body("unavailable", "down"), status=status)

    with pytest.raises(BackendUnavailable, match=f"server error {status}"):
        http.post(PATH, BODY, idempotent=False)


@pytest.mark.parametrize("status", [301, 400, 405, 418, 429])
def test_undocumented_statuses_are_unavailable(mocked, http, status):
    mocked.post(URL, json=error_body("invalid_request", "x"), status=status)

    with pytest.raises(BackendUnavailable, match=f"undocumented status {status}"):
        http.post(PATH, BODY, idempotent=True)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError("refused"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("broken"),
    ],
)
def test_transport_errors_are_unavailable(mocked, http, exc):
    mocked.post(URL, body=exc)

    with pytest.raises(BackendUnavailable) as caught:
        http.post(PATH, BODY, idempotent=False)
    assert caught.value.__cause__ is exc


@pytest.mark.parametrize(
    "body", ["", "not json", "[1, 2]", '"text"', "42", "null", "{broken", b"\xff\xfe\x00"]
)
def test_success_status_with_a_body_that_is_not_a_json_object_is_unavailable(mocked, http, body):
    mocked.post(URL, body=body, status=200)

    with pytest.raises(BackendUnavailable, match="not an object"):
        http.post(PATH, BODY, idempotent=True)


# --- retries and time budget ---------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_idempotent_call_is_retried_on_busy_statuses_then_succeeds(mocked, clock, status):
    backend = make_http(clock, retries=3)
    mocked.post(URL, json=error_body("unavailable", "busy"), status=status)
    mocked.post(URL, json=error_body("unavailable", "busy"), status=status)
    mocked.post(URL, json={"ok": True}, status=200)

    assert backend.post(PATH, BODY, idempotent=True) == {"ok": True}

    assert len(mocked.calls) == 3
    assert clock.sleeps == [0.2, 0.4]


def test_idempotent_call_is_retried_on_connection_errors(mocked, http, clock):
    mocked.post(URL, body=requests.exceptions.ConnectionError("refused"))
    mocked.post(URL, json={"ok": True}, status=200)

    assert http.post(PATH, BODY, idempotent=True) == {"ok": True}
    assert len(mocked.calls) == 2
    assert clock.sleeps == [0.2]


def test_idempotent_call_is_retried_on_connect_timeouts(mocked, http):
    mocked.post(URL, body=requests.exceptions.ConnectTimeout("connect timed out"))
    mocked.post(URL, json={"ok": True}, status=200)

    assert http.post(PATH, BODY, idempotent=True) == {"ok": True}
    assert len(mocked.calls) == 2


@pytest.mark.parametrize("retries", [1, 2, 3])
def test_retries_are_bounded_by_the_attempts_setting(mocked, clock, retries):
    backend = make_http(clock, retries=retries)
    mocked.post(URL, json=error_body("unavailable", "down"), status=503)

    with pytest.raises(BackendUnavailable, match="server error 503"):
        backend.post(PATH, BODY, idempotent=True)

    assert len(mocked.calls) == retries
    assert len(clock.sleeps) == retries - 1


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503, "json": {"error": {"code": "unavailable", "message": "down"}}},
        {"status": 502, "body": "Bad Gateway"},
        {"body": requests.exceptions.ConnectionError("refused")},
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
    ],
)
def test_non_idempotent_call_is_sent_once(mocked, clock, failure):
    backend = make_http(clock, retries=5)
    mocked.post(URL, **failure)
    mocked.post(URL, json={"ok": True}, status=202)

    with pytest.raises(BackendUnavailable):
        backend.post(PATH, BODY, idempotent=False, expected_status=202)

    assert len(mocked.calls) == 1
    assert clock.sleeps == []


def test_read_timeout_is_not_retried(mocked, clock):
    backend = make_http(clock, retries=5)
    mocked.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    mocked.post(URL, json={"ok": True}, status=200)

    with pytest.raises(BackendUnavailable, match="read timeout"):
        backend.post(PATH, BODY, idempotent=True)

    assert len(mocked.calls) == 1


@pytest.mark.parametrize("status", [500, 401, 404, 422])
def test_other_failures_are_not_retried(mocked, clock, status):
    backend = make_http(clock, retries=5)
    mocked.post(URL, json=error_body("invalid_request", "x"), status=status)

    with pytest.raises((BackendUnavailable, NotFound, Rejected)):
        backend.post(PATH, BODY, idempotent=True)
    assert len(mocked.calls) == 1


def test_retries_stop_when_the_time_budget_is_spent(mocked, clock):
    backend = make_http(clock, timeout=1.0, retries=10)
    mocked.post(URL, json=error_body("unavailable", "down"), status=503)

    with pytest.raises(BackendUnavailable):
        backend.post(PATH, BODY, idempotent=True)

    # 0.2 s pause leaves 0.8 s; a further 0.4 s pause would leave less than 0.5 s.
    assert len(mocked.calls) == 2
    assert clock.sleeps == [0.2]


def test_a_retry_only_gets_the_time_left_in_the_budget(mocked, clock):
    backend = make_http(clock, timeout=4.0, retries=2)
    mocked.post(URL, body=requests.exceptions.ConnectionError("refused"))
    mocked.post(URL, json={}, status=200)

    backend.post(PATH, BODY, idempotent=True)

    first, second = (call.request.req_kwargs["timeout"] for call in mocked.calls)
    assert first == (2.0, 4.0)
    assert second == (2.0, pytest.approx(3.8))


# --- headers, session, construction --------------------------------------------------------


def test_api_key_header_is_sent_when_set(mocked, clock):
    backend = make_http(clock, api_key="s3cret")
    mocked.post(URL, json={}, status=200)

    backend.post(PATH, BODY, idempotent=True)

    assert mocked.calls[0].request.headers["X-API-Key"] == "s3cret"


def test_api_key_header_is_absent_when_not_set(mocked, http):
    mocked.post(URL, json={}, status=200)

    http.post(PATH, BODY, idempotent=True)

    assert "X-API-Key" not in mocked.calls[0].request.headers


def test_one_session_is_reused_for_every_call(mocked, http, monkeypatch):
    sessions: list[int] = []
    original = requests.Session.post

    def spy(self, *args, **kwargs):
        sessions.append(id(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "post", spy)
    mocked.post(URL, json={}, status=200)
    mocked.post(BASE + "/v1/contracts/lookup", json={}, status=200)

    http.post(PATH, BODY, idempotent=True)
    http.post("/v1/contracts/lookup", {"satker_code": "415011"}, idempotent=True)
    http.post(PATH, BODY, idempotent=True)

    assert sessions == [id(http.session)] * 3


def test_from_settings_reads_url_key_timeout_and_retries():
    settings = Settings(
        backend_url="http://adapter.test:9000/",
        backend_api_key="k",
        backend_timeout=3.0,
        backend_retries=3,
    )

    backend = BackendHttp.from_settings(settings)

    assert backend.base_url == "http://adapter.test:9000"
    assert backend.session.headers["X-API-Key"] == "k"
    assert backend.timeout == 3.0
    assert backend.connect_timeout == 2.0
    assert backend.retries == 3
    backend.close()


def test_from_settings_reads_zero_retries_as_one_attempt():
    backend = BackendHttp.from_settings(Settings(backend_retries=0))

    assert backend.retries == 1


def test_close_closes_the_session(monkeypatch):
    backend = BackendHttp(BASE)
    closed: list[bool] = []
    monkeypatch.setattr(backend.session, "close", lambda: closed.append(True))

    with backend:
        pass

    assert closed == [True]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "localhost:8081"},
        {"base_url": ""},
        {"timeout": 0},
        {"retries": 0},
        {"connect_timeout": -1},
        {"backoff": -0.1},
    ],
)
def test_constructor_refuses_bad_arguments(kwargs):
    kwargs.setdefault("base_url", BASE)
    with pytest.raises(ValueError):
        BackendHttp(**kwargs)


def test_path_must_be_absolute(http):
    with pytest.raises(ValueError):
        http.post("v1/sp2d/lookup", BODY, idempotent=True)


# --- no personal data in logs or exceptions ------------------------------------------------

NIK = "3201234567890001"
NIP = "198001012005011001"
PHONE = "6281234567890"
ACCOUNT = "9876543210123"
EMAIL = "budi.santoso@kemenkeu.go.id"
SECRETS = (NIK, NIP, PHONE, ACCOUNT, EMAIL)


def test_scrub_masks_secrets_emails_and_long_digit_runs():
    text = f"NIK {NIK} phone {PHONE} mail {EMAIL} account {ACCOUNT} satker 415011"

    cleaned = scrub(text, secrets=(ACCOUNT,))

    for secret in SECRETS:
        assert secret not in cleaned
    assert "415011" in cleaned
    assert "0001" in cleaned


def test_scrub_cuts_long_messages():
    assert len(scrub("x" * 1000)) == 200


def test_no_identifier_in_any_log_record_or_exception(mocked, clock, caplog):
    caplog.set_level(logging.DEBUG)
    backend = make_http(clock, retries=2)
    body = {"nik": NIK, "requester_phone": PHONE, "id_value": NIP, "email": EMAIL}
    echo = f"NIK {NIK}, NIP {NIP}, phone {PHONE}, account {ACCOUNT}, e-mail {EMAIL}"
    mocked.post(URL, json={"nik": NIK, "email": EMAIL}, status=200)
    mocked.post(URL, json=error_body("not_found", echo), status=404)
    mocked.post(URL, json=error_body("requester_not_owner", echo), status=403)
    mocked.post(URL, json=error_body("email_mismatch", echo), status=409)
    mocked.post(URL, json=error_body("invalid_request", echo, "nik"), status=422)
    mocked.post(URL, json=error_body("unavailable", echo), status=503)
    mocked.post(URL, json=error_body("unavailable", echo), status=503)
    mocked.post(URL, json=error_body(echo, echo), status=500)
    mocked.post(URL, json=error_body("unauthorized", echo), status=401)
    mocked.post(URL, body=requests.exceptions.ConnectionError(echo))
    mocked.post(URL, body=requests.exceptions.ConnectionError(echo))
    mocked.post(URL, body=requests.exceptions.ReadTimeout(echo))
    mocked.post(URL, body=f"<html>{echo}</html>", status=200)

    texts: list[str] = []
    assert backend.post(PATH, body, idempotent=True)["nik"] == NIK
    for _ in range(10):
        with pytest.raises((BackendUnavailable, NotFound, Rejected)) as caught:
            backend.post(PATH, body, idempotent=True)
        texts += [str(caught.value), repr(caught.value)]
        if isinstance(caught.value, Rejected):
            texts.append(caught.value.message)
    assert len(mocked.calls) == 13

    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    assert any("POST /v1/sp2d/lookup -> 200" in text for text in texts)
    assert any("retrying" in text for text in texts)
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, text


def test_reader_never_names_the_value_of_a_field():
    reader = ResponseReader({"nik": NIK}, "POST /x")

    with pytest.raises(BackendUnavailable) as caught:
        reader.integer("nik")

    assert NIK not in str(caught.value)
    assert "'nik' is not an integer" in str(caught.value)


# --- metrics --------------------------------------------------------------------------------

SP2D = {"service": "sp2d", "operation": "lookup"}


def sample(name: str, **labels: str) -> float:
    """A metric's value now (0 before its first observation)."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def observed(outcome: str) -> tuple[float, float]:
    """(calls, seconds in all) of SP2D lookups with `outcome` so far."""
    labels = {**SP2D, "outcome": outcome}
    return (
        sample("helpdesk_backend_request_seconds_count", **labels),
        sample("helpdesk_backend_request_seconds_sum", **labels),
    )


def test_a_successful_call_is_observed_with_its_time_retries_included(mocked, clock):
    backend = make_http(clock, retries=2, backoff=0.5)
    mocked.post(URL, json=error_body("unavailable", "down"), status=503)
    mocked.post(URL, json={"ok": True}, status=200)
    calls, seconds = observed("ok")
    unavailable = observed("unavailable")[0]
    busy = sample("helpdesk_backend_errors_total", service="sp2d", kind="busy")

    backend.post(PATH, BODY, idempotent=True)

    assert observed("ok") == (calls + 1, pytest.approx(seconds + 0.5))  # the backoff pause
    # The retried attempt is part of the call, not a failure of its own.
    assert observed("unavailable")[0] == unavailable
    assert sample("helpdesk_backend_errors_total", service="sp2d", kind="busy") == busy


@pytest.mark.parametrize(
    ("status", "body", "error", "outcome"),
    [
        (404, error_body("not_found"), NotFound, "not_found"),
        (422, error_body("invalid_request", field="nik"), Rejected, "rejected"),
    ],
)
def test_refusals_are_observed_with_their_outcome_and_are_no_errors(
    mocked, http, status, body, error, outcome
):
    mocked.post(URL, json=body, status=status)
    calls, _ = observed(outcome)
    errors = {kind: sample("helpdesk_backend_errors_total", service="sp2d", kind=kind)
              for kind in ("bad_status", "off_spec")}  # fmt: skip

    with pytest.raises(error):
        http.post(PATH, BODY, idempotent=True)

    assert observed(outcome)[0] == calls + 1
    for kind, before in errors.items():
        assert sample("helpdesk_backend_errors_total", service="sp2d", kind=kind) == before


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"body": requests.exceptions.ReadTimeout("read timed out")}, "read_timeout"),
        ({"body": requests.exceptions.ConnectTimeout("connect timed out")}, "connect_timeout"),
        ({"body": requests.exceptions.ConnectionError("refused")}, "connection"),
        ({"body": requests.exceptions.TooManyRedirects("loop")}, "request"),
        ({"json": error_body("unavailable"), "status": 503}, "busy"),
        ({"json": error_body("internal"), "status": 500}, "server_error"),
        ({"json": error_body("unauthorized"), "status": 401}, "unauthorized"),
        ({"json": {}, "status": 418}, "bad_status"),
        ({"body": "<html>gateway</html>", "status": 200}, "off_spec"),
        ({"json": {"unexpected": True}, "status": 404}, "off_spec"),
    ],
)
def test_an_unavailable_call_is_counted_with_why(mocked, http, answer, kind):
    mocked.post(URL, **answer)
    errors = sample("helpdesk_backend_errors_total", service="sp2d", kind=kind)
    calls, _ = observed("unavailable")

    with pytest.raises(BackendUnavailable):
        http.post(PATH, BODY, idempotent=False)

    assert sample("helpdesk_backend_errors_total", service="sp2d", kind=kind) == errors + 1
    assert observed("unavailable")[0] == calls + 1


def test_an_answer_the_client_finds_off_the_spec_is_counted():
    before = sample("helpdesk_backend_errors_total", service="sp2d", kind="off_spec")
    with pytest.raises(BackendUnavailable):
        ResponseReader({"amount": "banyak"}, "POST /v1/sp2d/lookup").integer("amount")
    assert sample("helpdesk_backend_errors_total", service="sp2d", kind="off_spec") == before + 1


def test_ping_checks_the_health_endpoint_without_counting_a_call(mocked, http):
    mocked.get(BASE + "/v1/health", json={"status": "ok"}, status=200)
    calls = sample("helpdesk_backend_request_seconds_count", service="other", operation="other",
                   outcome="ok")  # fmt: skip
    http.ping(1.0)
    assert mocked.calls[-1].request.method == "GET"
    assert sample("helpdesk_backend_request_seconds_count", service="other", operation="other",
                  outcome="ok") == calls  # fmt: skip

    mocked.replace(responses.GET, BASE + "/v1/health", status=503)
    with pytest.raises(BackendUnavailable, match="status 503"):
        http.ping(1.0)
    mocked.replace(responses.GET, BASE + "/v1/health", body=requests.exceptions.ConnectionError())
    with pytest.raises(BackendUnavailable, match="ConnectionError"):
        http.ping(1.0)
