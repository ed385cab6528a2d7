"""The real clients against the real simulator over a local socket (skipped without it)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date
from pathlib import Path

import pytest

import helpdesk.backends
from helpdesk.backends.contracts import ContractClient
from helpdesk.backends.digit import DigitClient
from helpdesk.backends.errors import BackendUnavailable, Rejected
from helpdesk.backends.http import BackendHttp
from helpdesk.backends.sakti import SaktiClient
from helpdesk.backends.sp2d import Sp2dClient

simulator = pytest.importorskip("helpdesk.backends.simulator")
fixtures_module = pytest.importorskip("helpdesk.backends.fixtures")

FIXTURES = Path(helpdesk.backends.__file__).parent / "fixtures.json"
API_KEY = "live-test-key"
NIK = "3201234567890001"
PHONE = "6281234567890"
OTHER_PHONE = "6289999999999"
ACCOUNT = "1234567890"
SLOW_SECONDS = 3.0


@pytest.fixture(scope="module")
def base_url():
    if not FIXTURES.is_file():
        pytest.skip("helpdesk/backends/fixtures.json is not there yet")
    fixtures = fixtures_module.load_fixtures(FIXTURES)
    server = simulator.make_server(
        fixtures, "127.0.0.1", 0, api_key=API_KEY, slow_seconds=SLOW_SECONDS
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def http(base_url):
    backend = BackendHttp(base_url, api_key=API_KEY, timeout=4.0, retries=2)
    yield backend
    backend.close()


def test_clients_against_the_simulator(http, caplog):
    caplog.set_level(logging.DEBUG)

    info = Sp2dClient(http).lookup("260011301000123", ACCOUNT)
    assert (info.satker_code, info.satker_name) == ("415011", "KPPN Jakarta II")
    assert isinstance(info.date, date)

    registration = ContractClient(http).check("415011", "KTR-01/PPK/2026")
    assert registration.registered is True

    assert DigitClient(http).user_status("nik", NIK).status == "aktif"

    satkers = SaktiClient(http).satkers(NIK, PHONE)
    assert sorted(s.satker_code for s in satkers) == ["415011", "527010"]

    with pytest.raises(Rejected) as caught:
        SaktiClient(http).satkers(NIK, OTHER_PHONE)
    assert caught.value.code == "requester_not_owner"

    # Our HTTP layer and urllib3 below it: no identifier in any of their records.
    ours = ("helpdesk.backends.http", "urllib3", "requests")
    texts = [r.getMessage() for r in caplog.records if r.name.startswith(ours)]
    texts.append(str(caught.value))
    for text in texts:
        for secret in (NIK, PHONE, OTHER_PHONE, ACCOUNT):
            assert secret not in text, text


def test_a_wrong_api_key_is_unavailable(base_url):
    backend = BackendHttp(base_url, api_key="wrong", timeout=4.0)
    with backend, pytest.raises(BackendUnavailable, match="401"):
        Sp2dClient(backend).lookup("260011301000123", ACCOUNT)


def test_a_lookup_that_stays_down_is_unavailable_after_the_retries(http):
    # Fixture record marked "simulate": "unavailable" (503).
    with pytest.raises(BackendUnavailable, match="503"):
        Sp2dClient(http).lookup("260011301999999", "1111111111")


def test_garbage_from_the_backend_is_unavailable(http):
    # Fixture record marked "simulate": "garbage" (200 with a body that is not JSON).
    with pytest.raises(BackendUnavailable, match="not an object"):
        ContractClient(http).check("634512", "B-12/PPK.BPS/2026")


def test_a_slow_backend_is_given_up_within_the_time_budget(base_url):
    # Fixture record marked "simulate": "slow"; the read timeout is not retried.
    backend = BackendHttp(base_url, api_key=API_KEY, timeout=1.0, retries=2)
    started = time.monotonic()
    with backend, pytest.raises(BackendUnavailable, match="read timeout"):
        Sp2dClient(backend).lookup("260033101000555", "7001234567")
    assert time.monotonic() - started < SLOW_SECONDS - 1.0
