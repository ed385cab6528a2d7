"""The backend simulator over real HTTP: every endpoint's success and error paths, the DIGIT
state machine, the SAKTI owner check, fault injection, the API key and the request log."""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from helpdesk.backends.fixtures import Fixtures, parse_fixtures
from helpdesk.backends.simulator_logic import BackendSimulator

BUDI_NIK = "3201234567890001"
BUDI_NIP = "198501012010011001"
BUDI_EMAIL = "budi.santoso@kemenkeu.go.id"
BUDI_PHONE = "6281234567890"
SITI_NRP = "85010123"
SITI_EMAIL = "siti.rahma@polri.go.id"
ANDI_NIK = "3201234567890003"
ANDI_EMAIL = "andi.wijaya@gmail.com"
RINA_NIK = "7371014506880004"
RINA_EMAIL = "rina.kartika@kemenkeu.go.id"


def post(base_url: str, path: str, body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(base_url + path, json=body, timeout=5, **kwargs)


def error_of(response: requests.Response) -> dict[str, str]:
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def digit_request(base_url: str, action: str, id_type: str, id_value: str, email: str):
    body = {"action": action, "id_type": id_type, "id_value": id_value, "email": email}
    return post(base_url, "/v1/digit/requests", body)


def digit_status(base_url: str, id_type: str, id_value: str) -> str:
    response = post(base_url, "/v1/digit/users/lookup", {"id_type": id_type, "id_value": id_value})
    assert response.status_code == 200
    return response.json()["status"]


# -- health, unknown paths, wrong methods -----------------------------------------------------
def test_health(base_url):
    response = requests.get(base_url + "/v1/health", timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_unknown_path_is_404_with_an_error_body(base_url):
    response = post(base_url, "/v1/sp2d/search", {})

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert requests.get(base_url + "/v1/sp2d/lookup/", timeout=5).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/sp2d/lookup", "POST"),
        ("PUT", "/v1/digit/requests", "POST"),
        ("DELETE", "/v1/sakti/resets", "POST"),
        ("PATCH", "/v1/contracts/lookup", "POST"),
        ("POST", "/v1/health", "GET"),
        ("QUERY", "/v1/health", "GET"),
    ],
)
def test_wrong_method_is_405_with_allow(base_url, method, path, allowed):
    response = requests.request(method, base_url + path, timeout=5)

    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert error_of(response)["code"] == "invalid_request"


def test_head_gets_headers_only(base_url):
    response = requests.head(base_url + "/v1/health", timeout=5)

    assert response.status_code == 405
    assert response.content == b""


def test_query_string_is_ignored(base_url):
    response = requests.get(base_url + "/v1/health?verbose=1", timeout=5)

    assert response.json() == {"status": "ok"}


def test_keep_alive_connection_serves_many_requests(base_url):
    with requests.Session() as session:
        for _ in range(5):
            assert session.get(base_url + "/v1/health", timeout=5).status_code == 200
            body = {"sp2d_number": "260011301000123", "account_number": "1234567890"}
            assert session.post(base_url + "/v1/sp2d/lookup", json=body, timeout=5).ok


# -- request validation -----------------------------------------------------------------------
SP2D_OK = {"sp2d_number": "260011301000123", "account_number": "1234567890"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/sp2d/lookup", {"sp2d_number": "260011301000123"}, "account_number"),
        ("/v1/sp2d/lookup", {**SP2D_OK, "sp2d_number": "26001130100012"}, "sp2d_number"),
        ("/v1/sp2d/lookup", {**SP2D_OK, "sp2d_number": 260011301000123}, "sp2d_number"),
        ("/v1/sp2d/lookup", {**SP2D_OK, "sp2d_number": "260011301000123\n"}, "sp2d_number"),
        ("/v1/sp2d/lookup", {**SP2D_OK, "account_number": "1234"}, "account_number"),
        ("/v1/sp2d/lookup", {**SP2D_OK, "nik": "3201234567890001"}, "nik"),
        (
            "/v1/contracts/lookup",
            {"satker_code": "415011", "contract_number": "K1"},
            "contract_number",
        ),
        (
            "/v1/contracts/lookup",
            {"satker_code": "415011", "contract_number": "K" * 101},
            "contract_number",
        ),
        ("/v1/contracts/lookup", {"satker_code": "41501", "contract_number": "KTR"}, "satker_code"),
        ("/v1/digit/users/lookup", {"id_type": "npwp", "id_value": "12345"}, "id_type"),
        ("/v1/digit/users/lookup", {"id_type": "nik", "id_value": "1234"}, "id_value"),
        ("/v1/digit/users/lookup", {"id_type": "nik", "id_value": "1" * 19}, "id_value"),
        ("/v1/digit/users/email-check", {"id_type": "nik", "id_value": BUDI_NIK}, "email"),
        (
            "/v1/digit/users/email-check",
            {"id_type": "nik", "id_value": BUDI_NIK, "email": "ab"},
            "email",
        ),
        (
            "/v1/digit/requests",
            {"action": "delete", "id_type": "nik", "id_value": BUDI_NIK, "email": BUDI_EMAIL},
            "action",
        ),
        (
            "/v1/sakti/users/satkers",
            {"nik": BUDI_NIK, "requester_phone": "081234567890"},
            "requester_phone",
        ),
        ("/v1/sakti/users/satkers", {"nik": BUDI_NIK[:-1], "requester_phone": BUDI_PHONE}, "nik"),
        (
            "/v1/sakti/resets",
            {
                "kind": "pin",
                "nik": BUDI_NIK,
                "satker_code": "415011",
                "requester_phone": BUDI_PHONE,
            },
            "kind",
        ),
        (
            "/v1/sakti/resets",
            {"kind": "mfa", "nik": BUDI_NIK, "requester_phone": BUDI_PHONE},
            "satker_code",
        ),
    ],
)
def test_malformed_field_is_422_naming_the_field(base_url, path, body, field):
    response = post(base_url, path, body)

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert error["field"] == field


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[]", b'"text"', b"null", b'{"sp2d_number": NaN}', b"\xff\xfe{}"],
)
def test_body_that_is_not_a_json_object_is_422(base_url, raw):
    response = requests.post(
        base_url + "/v1/sp2d/lookup",
        data=raw,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert "field" not in error


def test_oversized_body_is_refused_and_the_connection_closed(base_url):
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    connection.putrequest("POST", "/v1/sp2d/lookup")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(10 * 1024 * 1024))
    connection.endheaders()
    response = connection.getresponse()

    assert response.status == 422
    assert response.getheader("Connection") == "close"
    assert json.loads(response.read())["error"]["code"] == "invalid_request"
    connection.close()


# -- SP2D -------------------------------------------------------------------------------------
def test_sp2d_found_with_number_and_account(base_url):
    response = post(base_url, "/v1/sp2d/lookup", SP2D_OK)

    assert response.status_code == 200
    assert response.json() == {
        "sp2d_number": "260011301000123",
        "satker_code": "415011",
        "satker_name": "KPPN Jakarta II",
        "spm_number": "00123T/415011/2026",
        "amount": 15000000,
        "date": "2026-03-02",
        "status": "Sudah dicairkan",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"sp2d_number": "260011301000123", "account_number": "1234567891"},
        {"sp2d_number": "260011301000124", "account_number": "1234567890"},
        # another SP2D's account does not open this one
        {"sp2d_number": "260011301000123", "account_number": "5550001112"},
    ],
)
def test_sp2d_not_found_unless_number_and_account_match(base_url, body):
    response = post(base_url, "/v1/sp2d/lookup", body)

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# -- contracts --------------------------------------------------------------------------------
def test_registered_contract(base_url):
    body = {"satker_code": "415011", "contract_number": "KTR-01/PPK/2026"}
    response = post(base_url, "/v1/contracts/lookup", body)

    assert response.status_code == 200
    assert response.json() == {
        "satker_code": "415011",
        "contract_number": "KTR-01/PPK/2026",
        "registered": True,
        "register_number": "00123456789",
        "registered_at": "2026-02-01",
        "kppn": "KPPN Jakarta II",
    }


def test_contract_not_registered_yet_has_null_register_fields(base_url):
    body = {"satker_code": "415011", "contract_number": " ktr-02/ppk/2026 "}
    response = post(base_url, "/v1/contracts/lookup", body)

    assert response.status_code == 200
    assert response.json() == {
        "satker_code": "415011",
        "contract_number": "KTR-02/PPK/2026",
        "registered": False,
        "register_number": None,
        "registered_at": None,
        "kppn": "KPPN Jakarta II",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"satker_code": "415011", "contract_number": "KTR-99/PPK/2026"},
        {"satker_code": "527010", "contract_number": "KTR-01/PPK/2026"},
    ],
)
def test_unknown_contract_for_the_satker_is_404(base_url, body):
    response = post(base_url, "/v1/contracts/lookup", body)

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# -- DIGIT lookups ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("id_type", "id_value", "status", "email_masked"),
    [
        ("nik", BUDI_NIK, "aktif", "bu***@ke***.go.id"),
        ("nip", BUDI_NIP, "aktif", "bu***@ke***.go.id"),
        ("nrp", SITI_NRP, "diblokir", "si***@po***.go.id"),
        ("nik", ANDI_NIK, "belum aktif", "an***@gm***.com"),
        ("nik", RINA_NIK, "proses reset", "ri***@ke***.go.id"),
    ],
)
def test_digit_lookup_by_nik_nip_or_nrp(base_url, id_type, id_value, status, email_masked):
    response = post(base_url, "/v1/digit/users/lookup", {"id_type": id_type, "id_value": id_value})

    assert response.status_code == 200
    assert response.json() == {"id_type": id_type, "status": status, "email_masked": email_masked}


@pytest.mark.parametrize(
    ("id_type", "id_value"),
    [("nik", "3201234567890099"), ("nip", BUDI_NIK), ("nrp", BUDI_NIP), ("nik", SITI_NRP)],
)
def test_digit_lookup_of_unknown_identifier_is_404(base_url, id_type, id_value):
    response = post(base_url, "/v1/digit/users/lookup", {"id_type": id_type, "id_value": id_value})

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    ("email", "matches"),
    [(BUDI_EMAIL, True), ("Budi.Santoso@KEMENKEU.go.id", True), ("budi@kemenkeu.go.id", False)],
)
def test_digit_email_check_is_case_insensitive(base_url, email, matches):
    body = {"id_type": "nip", "id_value": BUDI_NIP, "email": email}
    response = post(base_url, "/v1/digit/users/email-check", body)

    assert response.status_code == 200
    assert response.json() == {"matches": matches, "email_masked": "bu***@ke***.go.id"}


def test_digit_email_check_of_unknown_account_is_404(base_url):
    body = {"id_type": "nik", "id_value": "3201234567890099", "email": BUDI_EMAIL}
    response = post(base_url, "/v1/digit/users/email-check", body)

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# -- DIGIT requests: the state machine --------------------------------------------------------
def test_reset_of_active_account_moves_it_to_proses_reset(base_url):
    response = digit_request(base_url, "reset", "nip", BUDI_NIP, BUDI_EMAIL.upper())

    assert response.status_code == 202
    result = response.json()
    assert re.fullmatch(r"DGT-[0-9]{6}", result["request_id"])
    assert result == {
        "request_id": result["request_id"],
        "action": "reset",
        "status": "proses reset",
        "sent_to": "bu***@ke***.go.id",
    }
    assert digit_status(base_url, "nik", BUDI_NIK) == "proses reset"
    again = digit_request(base_url, "reset", "nik", BUDI_NIK, BUDI_EMAIL)
    assert again.status_code == 409
    assert error_of(again)["code"] == "request_in_progress"


def test_unblock_of_blocked_account_moves_it_to_proses_reset(base_url):
    response = digit_request(base_url, "unblock", "nrp", SITI_NRP, SITI_EMAIL)

    assert response.status_code == 202
    assert response.json()["status"] == "proses reset"
    assert digit_status(base_url, "nrp", SITI_NRP) == "proses reset"
    for action in ("unblock", "reset", "activation"):
        refused = digit_request(base_url, action, "nrp", SITI_NRP, SITI_EMAIL)
        assert error_of(refused)["code"] == "request_in_progress"


def test_reset_of_blocked_account_is_accepted(base_url):
    response = digit_request(base_url, "reset", "nik", "3201234567890002", SITI_EMAIL)

    assert response.status_code == 202
    assert digit_status(base_url, "nrp", SITI_NRP) == "proses reset"


def test_activation_keeps_the_account_belum_aktif_and_may_be_repeated(base_url):
    first = digit_request(base_url, "activation", "nik", ANDI_NIK, ANDI_EMAIL)
    second = digit_request(base_url, "activation", "nik", ANDI_NIK, ANDI_EMAIL)

    assert first.status_code == second.status_code == 202
    assert first.json()["status"] == "belum aktif"
    assert first.json()["sent_to"] == "an***@gm***.com"
    assert first.json()["request_id"] != second.json()["request_id"]
    assert digit_status(base_url, "nik", ANDI_NIK) == "belum aktif"


@pytest.mark.parametrize(
    ("action", "id_type", "id_value", "email", "code"),
    [
        ("activation", "nip", BUDI_NIP, BUDI_EMAIL, "already_active"),
        ("activation", "nrp", SITI_NRP, SITI_EMAIL, "already_active"),
        ("unblock", "nip", BUDI_NIP, BUDI_EMAIL, "not_blocked"),
        ("unblock", "nik", ANDI_NIK, ANDI_EMAIL, "not_blocked"),
        ("reset", "nik", ANDI_NIK, ANDI_EMAIL, "not_active"),
        ("reset", "nik", RINA_NIK, RINA_EMAIL, "request_in_progress"),
        ("activation", "nik", RINA_NIK, RINA_EMAIL, "request_in_progress"),
        ("reset", "nip", BUDI_NIP, "budi@gmail.com", "email_mismatch"),
        ("reset", "nik", RINA_NIK, "rina@gmail.com", "email_mismatch"),
    ],
)
def test_request_the_state_does_not_allow_is_409(base_url, action, id_type, id_value, email, code):
    before = digit_status(base_url, id_type, id_value)

    response = digit_request(base_url, action, id_type, id_value, email)

    assert response.status_code == 409
    assert error_of(response)["code"] == code
    assert digit_status(base_url, id_type, id_value) == before


def test_request_for_unknown_account_is_404(base_url):
    response = digit_request(base_url, "reset", "nik", "3201234567890099", BUDI_EMAIL)

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_digit_state_belongs_to_one_server(start_server):
    first, second = start_server().url, start_server().url

    assert digit_request(first, "reset", "nip", BUDI_NIP, BUDI_EMAIL).status_code == 202

    assert digit_status(first, "nip", BUDI_NIP) == "proses reset"
    assert digit_status(second, "nip", BUDI_NIP) == "aktif"


# -- SAKTI ------------------------------------------------------------------------------------
def test_owner_gets_every_satker_of_the_nik(base_url):
    body = {"nik": BUDI_NIK, "requester_phone": BUDI_PHONE}
    response = post(base_url, "/v1/sakti/users/satkers", body)

    assert response.status_code == 200
    assert response.json() == {
        "satkers": [
            {"satker_code": "415011", "satker_name": "KPPN Jakarta II"},
            {"satker_code": "527010", "satker_name": "Dinas Pendidikan Provinsi Sulawesi Selatan"},
        ]
    }


def test_satker_without_a_name_is_null(base_url):
    body = {"nik": "3201234567890004", "requester_phone": "6285711112222"}
    response = post(base_url, "/v1/sakti/users/satkers", body)

    assert response.json() == {"satkers": [{"satker_code": "415011", "satker_name": None}]}


def test_phone_registered_as_plus_62_matches_the_62_form(base_url):
    body = {"nik": RINA_NIK, "requester_phone": "6281344556677"}

    assert post(base_url, "/v1/sakti/users/satkers", body).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"nik": BUDI_NIK, "requester_phone": "6285711112222"},  # Dewi's phone, Budi's NIK
        {"nik": "3201234567890099", "requester_phone": BUDI_PHONE},  # unknown NIK
    ],
)
def test_satkers_for_someone_else_or_unknown_nik_is_the_same_403(base_url, body):
    response = post(base_url, "/v1/sakti/users/satkers", body)

    assert response.status_code == 403
    assert error_of(response) == {
        "code": "requester_not_owner",
        "message": "the requester is not the owner of the account",
    }


@pytest.mark.parametrize("kind", ["password", "mfa"])
def test_owner_resets_password_or_mfa_in_one_satker(base_url, kind):
    body = {
        "kind": kind,
        "nik": BUDI_NIK,
        "satker_code": "527010",
        "requester_phone": BUDI_PHONE,
    }
    response = post(base_url, "/v1/sakti/resets", body)

    assert response.status_code == 202
    result = response.json()
    assert re.fullmatch(r"SKT-[0-9]{6}", result["request_id"])
    assert result == {
        "request_id": result["request_id"],
        "kind": kind,
        "satker_code": "527010",
        "sms_to": "62812****7890",
    }


@pytest.mark.parametrize(
    ("nik", "satker_code", "phone", "status", "code"),
    [
        (BUDI_NIK, "690562", BUDI_PHONE, 404, "not_found"),  # owner, not in this satker
        (BUDI_NIK, "415011", "6285711112222", 403, "requester_not_owner"),
        (BUDI_NIK, "690562", "6285711112222", 403, "requester_not_owner"),
        ("3201234567890099", "415011", BUDI_PHONE, 403, "requester_not_owner"),
    ],
)
def test_sakti_reset_refusals(base_url, nik, satker_code, phone, status, code):
    body = {"kind": "password", "nik": nik, "satker_code": satker_code, "requester_phone": phone}
    response = post(base_url, "/v1/sakti/resets", body)

    assert response.status_code == status
    assert error_of(response)["code"] == code


# -- fault injection --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/sp2d/lookup", {"sp2d_number": "260011301999999", "account_number": "1111111111"}),
        ("/v1/contracts/lookup", {"satker_code": "415011", "contract_number": "KTR-09/PPK/2026"}),
        ("/v1/digit/users/lookup", {"id_type": "nik", "id_value": "3201234567890008"}),
        (
            "/v1/digit/requests",
            {
                "action": "reset",
                "id_type": "nip",
                "id_value": "199207142018011003",
                "email": "dimas.prakoso@kemenkeu.go.id",
            },
        ),
        (
            "/v1/sakti/users/satkers",
            {"nik": "3201234567890009", "requester_phone": "6281300000009"},
        ),
        (
            "/v1/sakti/resets",
            {
                "kind": "mfa",
                "nik": "3201234567890009",
                "satker_code": "690562",
                "requester_phone": "6281300000009",
            },
        ),
    ],
)
def test_unavailable_record_is_503(base_url, path, body):
    response = post(base_url, path, body)

    assert response.status_code == 503
    assert error_of(response)["code"] == "unavailable"


def test_unavailable_sp2d_needs_the_right_account_to_be_reached(base_url):
    body = {"sp2d_number": "260011301999999", "account_number": "2222222222"}

    assert post(base_url, "/v1/sp2d/lookup", body).status_code == 404


def test_garbage_record_answers_200_with_a_body_that_is_not_json(base_url):
    body = {"satker_code": "634512", "contract_number": "B-12/PPK.BPS/2026"}
    response = post(base_url, "/v1/contracts/lookup", body)

    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_slow_record_answers_normally_after_slow_seconds(start_server):
    base_url = start_server(slow_seconds=0.5).url
    body = {"sp2d_number": "260033101000555", "account_number": "7001234567"}

    started = time.monotonic()
    response = post(base_url, "/v1/sp2d/lookup", body)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json()["status"] == "Sudah dicairkan"
    assert elapsed >= 0.5
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(base_url + "/v1/sp2d/lookup", json=body, timeout=(2, 0.1))
    fast = post(base_url, "/v1/sp2d/lookup", SP2D_OK)
    assert fast.elapsed.total_seconds() < 0.5


def _faulty_fixtures(mode: str) -> Fixtures:
    return parse_fixtures(
        {
            "digit_users": [
                {
                    "nik": BUDI_NIK,
                    "nip": None,
                    "nrp": None,
                    "email": BUDI_EMAIL,
                    "status": "aktif",
                    "simulate": mode,
                }
            ],
            "sakti_users": [
                {"nik": BUDI_NIK, "satker_code": "415011", "phone": BUDI_PHONE, "name": "Budi"},
                {
                    "nik": BUDI_NIK,
                    "satker_code": "527010",
                    "phone": BUDI_PHONE,
                    "name": "Budi",
                    "simulate": mode,
                },
            ],
        }
    )


def test_slow_digit_request_still_changes_the_state(start_server):
    base_url = start_server(fixtures=_faulty_fixtures("slow"), slow_seconds=0.05).url

    response = digit_request(base_url, "reset", "nik", BUDI_NIK, BUDI_EMAIL)

    assert response.status_code == 202
    assert digit_status(base_url, "nik", BUDI_NIK) == "proses reset"


def test_garbage_digit_user_answers_garbage_to_a_request(start_server):
    base_url = start_server(fixtures=_faulty_fixtures("garbage")).url

    response = digit_request(base_url, "reset", "nik", BUDI_NIK, BUDI_EMAIL)

    assert response.status_code == 200
    assert not response.content.startswith(b"{")


def test_sakti_fault_on_one_registration_hits_the_whole_nik(start_server):
    base_url = start_server(fixtures=_faulty_fixtures("unavailable")).url
    owner = {"nik": BUDI_NIK, "requester_phone": BUDI_PHONE}

    assert post(base_url, "/v1/sakti/users/satkers", owner).status_code == 503
    reset = {"kind": "password", "satker_code": "415011", **owner}
    assert post(base_url, "/v1/sakti/resets", reset).status_code == 503


def test_shutdown_does_not_wait_for_a_slow_answer(start_server):
    server = start_server(slow_seconds=30)
    body = {"sp2d_number": "260033101000555", "account_number": "7001234567"}
    answers: list[requests.Response] = []
    client = threading.Thread(
        target=lambda: answers.append(post(server.url, "/v1/sp2d/lookup", body))
    )

    started = time.monotonic()
    client.start()
    time.sleep(0.2)
    server.shutdown()
    client.join(timeout=5)

    assert time.monotonic() - started < 5
    assert [a.status_code for a in answers] == [200]


# -- API key ----------------------------------------------------------------------------------
def test_api_key_is_required_when_configured(start_server):
    base_url = start_server(api_key="s3cret").url

    missing = post(base_url, "/v1/sp2d/lookup", SP2D_OK)
    wrong = post(base_url, "/v1/sp2d/lookup", SP2D_OK, headers={"X-API-Key": "guess"})
    right = post(base_url, "/v1/sp2d/lookup", SP2D_OK, headers={"X-API-Key": "s3cret"})

    assert missing.status_code == wrong.status_code == 401
    assert error_of(missing)["code"] == error_of(wrong)["code"] == "unauthorized"
    assert right.status_code == 200
    assert requests.get(base_url + "/v1/health", timeout=5).status_code == 200


def test_api_key_is_checked_before_the_body(start_server):
    base_url = start_server(api_key="s3cret").url

    response = requests.post(base_url + "/v1/digit/requests", data=b"{", timeout=5)

    assert response.status_code == 401


def test_no_api_key_configured_means_no_check(start_server):
    base_url = start_server(api_key="").url

    response = post(base_url, "/v1/sp2d/lookup", SP2D_OK, headers={"X-API-Key": "anything"})

    assert response.status_code == 200


# -- the request log --------------------------------------------------------------------------
def test_one_log_line_per_request_without_personal_data(base_url, caplog):
    caplog.set_level(logging.DEBUG, logger="helpdesk.backends.simulator")
    post(base_url, "/v1/sp2d/lookup", SP2D_OK)
    post(
        base_url,
        "/v1/digit/users/email-check",
        {"id_type": "nip", "id_value": BUDI_NIP, "email": BUDI_EMAIL},
    )
    post(base_url, "/v1/sakti/users/satkers", {"nik": BUDI_NIK, "requester_phone": BUDI_PHONE})
    post(
        base_url,
        "/v1/digit/requests",
        {"action": "reset", "id_type": "nrp", "id_value": SITI_NRP, "email": "x@y.z"},
    )
    requests.get(base_url + "/v1/health?nik=" + BUDI_NIK, timeout=5)

    lines = [r.getMessage() for r in caplog.records if r.name == "helpdesk.backends.simulator"]
    assert len(lines) == 5
    assert re.fullmatch(r"POST /v1/sp2d/lookup 200 [0-9.]+ ms", lines[0])
    assert lines[3].startswith("POST /v1/digit/requests 409 ")
    assert lines[4].startswith("GET /v1/health 200 ")
    for secret in ("1234567890", BUDI_NIP, BUDI_EMAIL, BUDI_NIK, BUDI_PHONE, SITI_NRP, "x@y.z"):
        assert secret not in caplog.text


# -- the logic without HTTP -------------------------------------------------------------------
def test_simulator_logic_can_be_called_directly(shipped_fixtures):
    simulator = BackendSimulator(shipped_fixtures, slow_seconds=3)
    slow = json.dumps({"sp2d_number": "260033101000555", "account_number": "7001234567"})

    reply = simulator.handle("POST", "/v1/sp2d/lookup", slow.encode())

    assert reply.status == 200
    assert reply.delay == 3
    assert simulator.routes["/v1/health"] == "GET"


def test_negative_slow_seconds_is_refused(shipped_fixtures):
    with pytest.raises(ValueError, match="slow_seconds"):
        BackendSimulator(shipped_fixtures, slow_seconds=-1)


# -- malformed input (issue 11, item 6) -------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 20_000 + b"]" * 20_000,  # Python's parser gives up (RecursionError)
        b'{"sp2d_number": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"sp2d_number": 1' + b"0" * 5000 + b"}",  # 5000 digits
        b'{"\\ud800": "x"}',  # a lone surrogate as a field name, echoed in the error
        b'{"sp2d_number": "\\ud800\\u0000", "account_number": "1234567"}',
    ],
    ids=["deep-list", "deep-field", "5000-digits", "surrogate-name", "surrogate-value"],
)
def test_malformed_bodies_are_422_never_a_crash(base_url, raw):
    response = requests.post(
        base_url + "/v1/sp2d/lookup",
        data=raw,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_request"
    assert requests.get(base_url + "/v1/health", timeout=5).status_code == 200


def test_a_body_shorter_than_announced_is_refused_after_the_timeout(start_server, monkeypatch):
    from helpdesk.backends.simulator import SimulatorRequestHandler

    monkeypatch.setattr(SimulatorRequestHandler, "timeout", 0.3)
    url = urlsplit(start_server().url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    connection.putrequest("POST", "/v1/sp2d/lookup")
    connection.putheader("Content-Length", "100")
    connection.endheaders()
    connection.send(b'{"sp2d')
    response = connection.getresponse()
    assert response.status == 408
    connection.close()


def test_a_long_path_is_logged_shortened(base_url, caplog):
    caplog.set_level(logging.INFO, logger="helpdesk.backends.simulator")
    response = requests.get(base_url + "/v1/" + "x" * 5000, timeout=5)
    assert response.status_code == 404
    assert all(len(record.getMessage()) < 400 for record in caplog.records)
