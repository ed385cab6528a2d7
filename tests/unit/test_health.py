"""helpdesk.health: checks run at once, required and optional ones, time limits, what is shown."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from helpdesk.health import (
    Check,
    CheckFailed,
    database_check,
    run_checks,
    tracker_store_check,
)
from helpdesk.storage.db import make_session_factory


def ok(detail: str | None = None):
    return lambda: detail


def failing(error: Exception):
    def probe() -> None:
        raise error

    return probe


def test_every_required_check_passing_is_200():
    report = run_checks([Check("database", ok("revision 0008")), Check("model", ok())])
    assert report.ok and report.http_status == 200
    body = report.as_dict()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["detail"] == "revision 0008"
    assert body["checks"]["database"]["required"] is True
    assert "detail" not in body["checks"]["model"]


def test_a_failing_required_check_is_503_and_named():
    report = run_checks([Check("database", failing(OSError("refused"))), Check("model", ok())])
    assert report.http_status == 503 and report.failed == ["database"]
    body = report.as_dict()
    assert body["status"] == "error"
    assert body["checks"]["database"] == {
        "status": "error",
        "required": True,
        "error": "OSError",
        "ms": body["checks"]["database"]["ms"],
    }
    assert body["checks"]["model"]["status"] == "ok"


def test_an_optional_check_is_reported_without_changing_the_status():
    report = run_checks([Check("database", ok()), Check("backend", failing(OSError()), False)])
    assert report.http_status == 200 and report.failed == ["backend"]
    assert report.as_dict()["checks"]["backend"] == {
        "status": "error",
        "required": False,
        "error": "OSError",
        "ms": report.as_dict()["checks"]["backend"]["ms"],
    }


def test_only_check_failed_messages_are_shown(caplog):
    secret = "postgresql://helpdesk:rahasia@db.internal/helpdesk"
    report = run_checks(
        [
            Check("database", failing(RuntimeError(f"cannot reach {secret}"))),
            Check("faq_index", failing(CheckFailed("index stale: run `helpdesk kb build`"))),
        ]
    )
    body = report.as_dict()
    assert body["checks"]["database"]["error"] == "RuntimeError"
    assert "rahasia" not in str(body)
    assert body["checks"]["faq_index"]["error"] == "index stale: run `helpdesk kb build`"
    assert "health check database failed" in caplog.text  # the whole error goes to the log


def test_a_hanging_check_times_out_and_the_others_still_answer():
    release = threading.Event()

    def hang() -> None:
        release.wait(10)

    start = time.monotonic()
    report = run_checks([Check("database", hang), Check("model", ok())], timeout=0.3)
    release.set()
    assert time.monotonic() - start < 2
    assert report.as_dict()["checks"]["database"]["error"] == "timeout"
    assert report.as_dict()["checks"]["model"]["status"] == "ok"
    assert report.http_status == 503


def test_check_names_are_unique():
    with pytest.raises(ValueError, match="unique"):
        run_checks([Check("database", ok()), Check("database", ok())])


def test_the_database_check_reads_the_schema_revision(session_factory):
    report = run_checks([database_check(lambda: session_factory)])
    assert report.ok
    assert report.as_dict()["checks"]["database"]["detail"].startswith("revision ")


def test_the_database_check_fails_on_an_unreachable_database(tmp_path):
    broken = make_session_factory(create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db"))
    report = run_checks([database_check(lambda: broken)])
    assert report.http_status == 503
    assert report.as_dict()["checks"]["database"]["error"] == "OperationalError"


def test_the_tracker_store_check_needs_rasa_s_events_table(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/tracker.db")
    assert run_checks([tracker_store_check(lambda: engine)]).http_status == 503  # no table yet
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT)"))
    assert run_checks([tracker_store_check(lambda: engine)]).http_status == 200
    with pytest.raises(OperationalError):  # what the check runs, directly
        from helpdesk.rasa_bridge.events import ping_tracker_store

        ping_tracker_store(create_engine(f"sqlite:///{tmp_path}/none/tracker.db"))
