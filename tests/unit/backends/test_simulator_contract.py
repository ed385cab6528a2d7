"""The simulator against its contract, `docs/backend-api.yaml`, so the two cannot drift.

- Property-based: schemathesis generates valid and invalid requests for every operation from
  the spec (plus unsupported methods, missing API key, ...) and checks every answer against the
  spec: documented status, `Content-Type`, body schema, invalid data refused, valid data accepted.
- Walk: every record of the shipped fixtures goes through its endpoints and every answer is
  validated against the spec's response schema for its status.
- Inventory: every path and method of the spec is served, the request rules mirror the spec's
  request schemas, and every error code the simulator can send is in the spec's enum.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import yaml

from helpdesk.backends import simulator_logic as simulator_module
from helpdesk.backends.fixtures import DEFAULT_FIXTURES_PATH, Fixtures, load_fixtures
from helpdesk.backends.simulator import SimulatorServer, make_server
from helpdesk.backends.simulator_protocol import ERROR_CODES, REQUEST_RULES, error_reply

SPEC_PATH = Path(__file__).resolve().parents[3] / "docs" / "backend-api.yaml"
API_KEY = "contract-test-key"
HEADERS = {"X-API-Key": API_KEY}

schema = schemathesis.openapi.from_path(SPEC_PATH)
# Enough examples per operation to cover each field's rules; no example database on disk.
schema.config.generation.update(max_examples=100, database="none")


@pytest.fixture(scope="module")
def contract_server() -> Iterator[SimulatorServer]:
    """One simulator with the shipped fixtures and an API key (so auth checks are meaningful)."""
    server = make_server(
        load_fixtures(DEFAULT_FIXTURES_PATH), "127.0.0.1", 0, api_key=API_KEY, slow_seconds=0.05
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def raw_spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


# -- property-based ---------------------------------------------------------------------------
@schema.parametrize()
def test_generated_requests_get_answers_the_spec_documents(case, contract_server):
    case.call_and_validate(base_url=contract_server.url, headers=HEADERS)


# -- every fixtures record through the endpoints ----------------------------------------------
class Walker:
    """Sends requests to the simulator and validates each answer against the spec."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update(HEADERS)
        self.statuses: list[tuple[str, int]] = []

    def call(self, path: str, body: dict[str, Any], expected: int) -> requests.Response:
        response = self.session.post(self.base_url + path, json=body, timeout=5)
        assert response.status_code == expected, (path, body, response.text)
        schema[path]["POST"].validate_response(response)
        self.statuses.append((path, response.status_code))
        return response


def _expected(simulate: str | None, normal: int) -> int:
    return 503 if simulate == "unavailable" else normal


def test_every_sp2d_record_answers_per_spec(contract_server, shipped_fixtures):
    walker = Walker(contract_server.url)
    for record in shipped_fixtures.sp2d:
        body = {"sp2d_number": record.number, "account_number": record.account_number}
        response = walker.call("/v1/sp2d/lookup", body, _expected(record.simulate, 200))
        if response.status_code == 200:
            assert response.json()["sp2d_number"] == record.number
        walker.call("/v1/sp2d/lookup", {**body, "account_number": "99999"}, 404)


def test_every_contract_record_answers_per_spec(contract_server, shipped_fixtures):
    walker = Walker(contract_server.url)
    for record in shipped_fixtures.contracts:
        body = {"satker_code": record.satker_code, "contract_number": record.contract_number}
        if record.simulate == "garbage":
            continue  # off the spec on purpose: see test_garbage_answers_fail_the_spec
        response = walker.call("/v1/contracts/lookup", body, _expected(record.simulate, 200))
        if response.status_code == 200:
            assert response.json()["registered"] is record.registered
        walker.call("/v1/contracts/lookup", {**body, "contract_number": "TIDAK-ADA/2026"}, 404)


def test_every_digit_record_answers_per_spec(start_server, shipped_fixtures):
    # A fresh server: the walk changes DIGIT statuses.
    walker = Walker(start_server(api_key=API_KEY, slow_seconds=0.05).url)
    action_for = {
        "belum aktif": ("activation", 202),
        "aktif": ("reset", 202),
        "diblokir": ("unblock", 202),
        "proses reset": ("reset", 409),
    }
    for record in shipped_fixtures.digit_users:
        for id_type in ("nik", "nip", "nrp"):
            id_value = record.identifier(id_type)
            if id_value is None:
                continue
            identity = {"id_type": id_type, "id_value": id_value}
            expected = _expected(record.simulate, 200)
            lookup = walker.call("/v1/digit/users/lookup", identity, expected)
            if expected == 200:
                assert lookup.json()["status"] == record.status
            check = {**identity, "email": record.email}
            walker.call("/v1/digit/users/email-check", check, expected)
        action, status = action_for[record.status]
        request = {"action": action, "id_type": "nik", "id_value": record.nik}
        walker.call(
            "/v1/digit/requests",
            {**request, "email": record.email},
            _expected(record.simulate, status),
        )
        mismatch = {**request, "email": "someone.else@example.com"}
        walker.call("/v1/digit/requests", mismatch, _expected(record.simulate, 409))
    assert {status for _, status in walker.statuses} == {200, 202, 409, 503}


def test_every_sakti_record_answers_per_spec(contract_server, shipped_fixtures):
    walker = Walker(contract_server.url)
    for record in shipped_fixtures.sakti_users:
        owner = {"nik": record.nik, "requester_phone": record.phone}
        expected = _expected(record.simulate, 200)
        walker.call("/v1/sakti/users/satkers", owner, expected)
        for kind in ("password", "mfa"):
            reset = {"kind": kind, "satker_code": record.satker_code, **owner}
            walker.call("/v1/sakti/resets", reset, _expected(record.simulate, 202))
        stranger = {"nik": record.nik, "requester_phone": "6289999999999"}
        walker.call("/v1/sakti/users/satkers", stranger, _expected(record.simulate, 403))
        elsewhere = {"kind": "password", "satker_code": "999999", **owner}
        walker.call("/v1/sakti/resets", elsewhere, _expected(record.simulate, 404))
    walker.call(
        "/v1/sakti/users/satkers", {"nik": "9999999999999999", "requester_phone": "628111"}, 422
    )


def test_errors_answer_per_spec(contract_server):
    walker = Walker(contract_server.url)
    walker.call("/v1/sp2d/lookup", {"sp2d_number": "1"}, 422)
    walker.call("/v1/digit/users/lookup", {"id_type": "nik", "id_value": "12345"}, 404)
    walker.session.headers["X-API-Key"] = "wrong"
    walker.call("/v1/sakti/resets", {}, 401)


def test_garbage_answers_fail_the_spec(contract_server, shipped_fixtures):
    garbage = [c for c in shipped_fixtures.contracts if c.simulate == "garbage"]
    assert garbage, "the shipped fixtures should hold a garbage record"
    for record in garbage:
        body = {"satker_code": record.satker_code, "contract_number": record.contract_number}
        response = requests.post(
            contract_server.url + "/v1/contracts/lookup", json=body, headers=HEADERS, timeout=5
        )
        assert response.status_code == 200
        assert not schema["/v1/contracts/lookup"]["POST"].is_valid_response(response)


# -- inventory --------------------------------------------------------------------------------
def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_every_spec_operation_is_served_and_nothing_else(raw_spec, shipped_fixtures: Fixtures):
    simulator = simulator_module.BackendSimulator(shipped_fixtures)
    documented = {
        path: method.upper()
        for path, operations in raw_spec["paths"].items()
        for method in operations
    }

    assert simulator.routes == documented


def test_request_rules_mirror_the_spec_request_schemas(raw_spec):
    for path, operations in raw_spec["paths"].items():
        if "post" not in operations:
            assert path not in REQUEST_RULES
            continue
        body = operations["post"]["requestBody"]
        request_schema = _resolve(raw_spec, body["content"]["application/json"]["schema"])
        rules = REQUEST_RULES[path]
        assert body["required"] is True
        assert request_schema["additionalProperties"] is False, path
        assert list(rules) == list(request_schema["properties"]), path
        assert set(request_schema["required"]) == set(rules), path
        for name, prop in request_schema["properties"].items():
            prop = _resolve(raw_spec, prop)
            rule = rules[name]
            assert prop["type"] == "string", (path, name)
            if "enum" in prop:
                assert rule.choices == tuple(prop["enum"]), (path, name)
            if "pattern" in prop:
                assert f"^{rule.pattern}$" == prop["pattern"], (path, name)
            assert rule.min_length == prop.get("minLength", 0), (path, name)
            assert rule.max_length == prop.get("maxLength"), (path, name)


def test_error_codes_are_the_spec_enum(raw_spec):
    error = raw_spec["components"]["schemas"]["Error"]["properties"]["error"]

    assert tuple(error["properties"]["code"]["enum"]) == ERROR_CODES
    with pytest.raises(ValueError, match="not in the spec"):
        error_reply(409, "no_such_code", "a typo in the simulator")
