"""The idle sweeper's `/healthz` and `/metrics` (`helpdesk.ops_server.OpsServer` with
`helpdesk.jobs.sweeper.sweeper_checks`), and what its passes count.

The server runs in its thread on a free loopback port; Rasa's tracker store is a temp SQLite
`events` table, the helpdesk database the test database (`tests/conftest.py`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
import requests
from prometheus_client import REGISTRY
from sqlalchemy import create_engine

from helpdesk.jobs.sweeper import IdleSweeper, sweeper_checks
from helpdesk.ops_server import OpsServer
from helpdesk.rasa_bridge.events import RASA_EVENTS
from helpdesk.storage.db import make_session_factory
from helpdesk.storage.idle_closures import IdleClosureRepository
from tests.unit.jobs.test_sweeper import IDLE, NOW, SENDER, FakeClock, FakeCloser, add_event

TOKEN = "sweeper-metrics-token-" + "x" * 10


@dataclass
class FakeServices:
    """What the sweeper's checks read of `helpdesk.services.Services`."""

    session_factory: object


@pytest.fixture
def tracker_engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/tracker.db")
    RASA_EVENTS.metadata.create_all(engine)
    yield engine
    engine.dispose()


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_healthz_is_200_when_both_databases_answer(tracker_engine, session_factory):
    checks = sweeper_checks(tracker_engine, FakeServices(session_factory))
    with OpsServer("127.0.0.1", 0, checks) as ops:
        health = requests.get(f"{ops.url}/healthz", timeout=10)
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"tracker_store", "database"}
    assert health.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_naming_an_unreachable_helpdesk_database(tmp_path, tracker_engine):
    broken = make_session_factory(create_engine(f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    with OpsServer("127.0.0.1", 0, sweeper_checks(tracker_engine, FakeServices(broken))) as ops:
        health = requests.get(f"{ops.url}/healthz", timeout=10)
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "error"
    assert body["checks"]["database"]["status"] == "error"
    assert body["checks"]["tracker_store"]["status"] == "ok"


def test_healthz_is_503_naming_an_unreachable_tracker_store(tmp_path, session_factory):
    missing = create_engine(f"sqlite:///{tmp_path}/no/such/dir/tracker.db")
    checks = sweeper_checks(missing, FakeServices(session_factory))
    with OpsServer("127.0.0.1", 0, checks) as ops:
        health = requests.get(f"{ops.url}/healthz", timeout=10)
    assert health.status_code == 503
    assert health.json()["checks"]["tracker_store"]["error"] == "OperationalError"
    assert health.json()["checks"]["database"]["status"] == "ok"


def test_metrics_to_this_machine_or_the_token_holder_other_paths_404(
    tracker_engine, session_factory
):
    checks = sweeper_checks(tracker_engine, FakeServices(session_factory))
    with OpsServer("127.0.0.1", 0, checks, metrics_token=TOKEN) as ops:
        page = requests.get(f"{ops.url}/metrics", timeout=10)
        forwarded = {"X-Forwarded-For": "203.0.113.9"}
        refused = requests.get(f"{ops.url}/metrics", headers=forwarded, timeout=10)
        with_token = requests.get(
            f"{ops.url}/metrics",
            headers={**forwarded, "Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        other = requests.get(f"{ops.url}/status", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/plain")
    assert "helpdesk_sweeper_last_success_timestamp_seconds" in page.text
    assert refused.status_code == 403 and "helpdesk_" not in refused.text
    assert with_token.status_code == 200
    assert other.status_code == 404


def test_a_taken_port_fails_at_start(tracker_engine, session_factory):
    checks = sweeper_checks(tracker_engine, FakeServices(session_factory))
    with OpsServer("127.0.0.1", 0, checks) as ops, pytest.raises(OSError):
        OpsServer("127.0.0.1", ops.port, checks).start()


def test_sweeps_count_closures_and_failures(tracker_engine, session_factory):
    add_event(tracker_engine, SENDER, "user", NOW.timestamp() - 2 * IDLE)
    add_event(tracker_engine, "web-2", "user", NOW.timestamp() - 2 * IDLE)
    sweeper = IdleSweeper(
        tracker_engine,
        IdleClosureRepository(session_factory),
        FakeCloser([True, False]),
        IDLE,
        clock=FakeClock(),
    )
    closed, failed = (
        value("helpdesk_idle_closures_total", outcome=o) for o in ("closed", "failed")
    )
    assert sweeper.sweep() == 1
    assert value("helpdesk_idle_closures_total", outcome="closed") == closed + 1
    assert value("helpdesk_idle_closures_total", outcome="failed") == failed + 1


def test_each_pass_is_counted_and_a_good_one_sets_the_last_success_time(
    tmp_path, tracker_engine, session_factory
):
    def one_pass(engine) -> None:
        stop = threading.Event()

        class OnePass(IdleSweeper):
            def sweep(self) -> int:
                stop.set()  # the loop ends after this pass
                return super().sweep()

        closures = IdleClosureRepository(session_factory)
        OnePass(engine, closures, FakeCloser(), IDLE, clock=FakeClock()).run_forever(0, stop)

    ok, error = (
        value("helpdesk_sweeps_total", outcome="ok"),
        value("helpdesk_sweeps_total", outcome="error"),
    )
    before = time.time()
    one_pass(tracker_engine)
    assert value("helpdesk_sweeps_total", outcome="ok") == ok + 1
    assert value("helpdesk_sweeper_last_success_timestamp_seconds") >= before

    last = value("helpdesk_sweeper_last_success_timestamp_seconds")
    one_pass(create_engine(f"sqlite:///{tmp_path}/no/such/dir/tracker.db"))
    assert value("helpdesk_sweeps_total", outcome="error") == error + 1
    assert value("helpdesk_sweeper_last_success_timestamp_seconds") == last
