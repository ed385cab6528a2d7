"""The idle sweeper over Rasa's SQL tracker store (a temp SQLite `events` table).

Conversations are rows in Rasa's `events` table with chosen timestamps; closures go to the
migrated helpdesk database of `tests/conftest.py`. The clock and the closer are fakes: the
closer records the sender ids it was asked to close and answers True (closed) or False.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine

import helpdesk.services as services_module
from helpdesk.cli import main
from helpdesk.jobs.sweeper import (
    IDLE_ACTION,
    LOOKBACK,
    MAX_ATTEMPTS,
    IdleConversation,
    IdleSweeper,
    RasaClosingClient,
    find_idle,
)
from helpdesk.rasa_bridge.events import RASA_EVENTS
from helpdesk.services import set_services
from helpdesk.settings import get_settings
from helpdesk.storage.db import make_engine, make_session_factory, session_scope
from helpdesk.storage.idle_closures import IdleClosureRepository
from helpdesk.storage.models import Handoff, IdleClosure
from scripts.servers import free_port

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
IDLE = 300
IDLE_TIME = timedelta(seconds=IDLE)
SENDER = "6281234567890"
RASA = "http://rasa.test:5005"


# --- helpers ------------------------------------------------------------------------------


class FakeClock:
    """The current time, moved on by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeCloser:
    """Records the conversations it was asked to close; answers from `results` (else True)."""

    def __init__(self, results: Iterable[bool] = ()) -> None:
        self.calls: list[str] = []
        self._results = list(results)
        self._lock = threading.Lock()

    def __call__(self, sender_id: str) -> bool:
        with self._lock:
            self.calls.append(sender_id)
            return self._results.pop(0) if self._results else True


def add_event(
    engine: Engine, sender_id: str, kind: str, at: datetime | float, text: str = "halo"
) -> None:
    """Append one event to Rasa's `events` table, as the SQL tracker store writes it."""
    stamp = at if isinstance(at, float) else at.timestamp()
    data = json.dumps({"event": kind, "timestamp": stamp, "text": text})
    with engine.begin() as connection:
        connection.execute(
            RASA_EVENTS.insert().values(
                sender_id=sender_id, type_name=kind, timestamp=stamp, data=data
            )
        )


def tracker_engine_at(path: Path, **connect_args: object) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args=connect_args)
    return engine


def closure_rows(session_factory, sender_id: str) -> list[tuple[str, int]]:
    """(status, attempts) of every closure row of a conversation, oldest silence first."""
    with session_scope(session_factory) as session:
        rows = session.execute(
            select(IdleClosure.status, IdleClosure.attempts)
            .where(IdleClosure.sender_id == sender_id)
            .order_by(IdleClosure.last_user_at)
        ).all()
        return [(row.status, row.attempts) for row in rows]


def add_handoff(session_factory, sender_id: str, status: str) -> None:
    with session_scope(session_factory) as session:
        session.add(Handoff(sender_id=sender_id, channel="whatsapp", status=status))


def set_handoff_status(
    session_factory, sender_id: str, status: str, ended_at: datetime | None = None
) -> None:
    with session_scope(session_factory) as session:
        for row in session.scalars(select(Handoff).where(Handoff.sender_id == sender_id)):
            row.status = status
            row.ended_at = ended_at


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def tracker_path(tmp_path: Path) -> Path:
    return tmp_path / "rasa" / "tracker.db"


@pytest.fixture
def tracker_engine(tracker_path: Path) -> Engine:
    tracker_path.parent.mkdir(parents=True, exist_ok=True)
    engine = tracker_engine_at(tracker_path)
    RASA_EVENTS.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def closures(session_factory) -> IdleClosureRepository:
    return IdleClosureRepository(session_factory)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def closer() -> FakeCloser:
    return FakeCloser()


@pytest.fixture
def sweeper(tracker_engine, closures, closer, clock) -> IdleSweeper:
    return IdleSweeper(tracker_engine, closures, closer, IDLE, clock=clock)


# --- find_idle ----------------------------------------------------------------------------


def test_find_idle_returns_conversations_idle_long_enough_within_the_lookback(tracker_engine):
    add_event(tracker_engine, "idle", "user", NOW - timedelta(seconds=400))
    add_event(tracker_engine, "idle", "bot", NOW - timedelta(seconds=399), "Nomor SP2D?")
    add_event(tracker_engine, "exactly-idle", "user", NOW - IDLE_TIME)
    add_event(tracker_engine, "recent", "user", NOW - timedelta(seconds=299))
    add_event(tracker_engine, "wrote-again", "user", NOW - timedelta(hours=3))
    add_event(tracker_engine, "wrote-again", "user", NOW - timedelta(seconds=10))
    add_event(tracker_engine, "too-old", "user", NOW - LOOKBACK - timedelta(seconds=1))
    add_event(tracker_engine, "bot-only", "bot", NOW - timedelta(hours=1), "Halo")
    # The bot speaking recently does not make a conversation active: only the citizen does.
    add_event(tracker_engine, "bot-spoke-last", "user", NOW - timedelta(seconds=600))
    add_event(tracker_engine, "bot-spoke-last", "bot", NOW - timedelta(seconds=5), "Ada lagi?")

    found = {c.sender_id: c for c in find_idle(tracker_engine, NOW, IDLE_TIME)}

    assert set(found) == {"idle", "exactly-idle", "bot-spoke-last"}
    assert found["idle"] == IdleConversation("idle", NOW - timedelta(seconds=400))
    assert found["idle"].last_user_at.tzinfo is not None


def test_find_idle_on_an_empty_store_finds_nothing(tracker_engine):
    assert find_idle(tracker_engine, NOW, IDLE_TIME) == []


def test_idle_seconds_must_be_positive(tracker_engine, closures, closer):
    with pytest.raises(ValueError, match="idle_seconds"):
        IdleSweeper(tracker_engine, closures, closer, 0)


# --- sweep: each silence closed once ------------------------------------------------------


def test_sweep_closes_each_idle_conversation_once(sweeper, tracker_engine, closer, closures):
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))
    add_event(tracker_engine, "web-2", "user", NOW - timedelta(seconds=30))

    assert sweeper.sweep() == 1
    assert closer.calls == [SENDER]
    assert closures.count_closed(SENDER) == 1

    # The Rasa server answered: bot message and session_started, no new user message.
    add_event(tracker_engine, SENDER, "bot", NOW, "Sesi chat berakhir")
    add_event(tracker_engine, SENDER, "session_started", NOW, "")
    assert sweeper.sweep() == 0
    assert sweeper.sweep() == 0
    assert closer.calls == [SENDER]
    assert closures.count_closed() == 1


def test_a_restarted_sweeper_does_not_close_the_same_silence_again(
    sweeper, tracker_engine, tracker_path, db_url, closer, clock
):
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))
    assert sweeper.sweep() == 1

    # A new process: its own engines and repository on the same two database files.
    tracker_again = tracker_engine_at(tracker_path)
    helpdesk_again = make_engine(db_url)
    try:
        restarted = IdleSweeper(
            tracker_again,
            IdleClosureRepository(make_session_factory(helpdesk_again)),
            closer,
            IDLE,
            clock=clock,
        )
        clock.advance(3600)
        assert restarted.sweep() == 0
    finally:
        tracker_again.dispose()
        helpdesk_again.dispose()
    assert closer.calls == [SENDER]


def test_a_new_message_after_a_closure_makes_the_conversation_closable_again(
    sweeper, tracker_engine, closer, closures, clock
):
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))
    assert sweeper.sweep() == 1

    clock.advance(60)
    add_event(tracker_engine, SENDER, "user", clock())  # the citizen writes again
    clock.advance(IDLE - 1)
    assert sweeper.sweep() == 0
    clock.advance(1)
    assert sweeper.sweep() == 1
    clock.advance(IDLE)
    assert sweeper.sweep() == 0

    assert closer.calls == [SENDER, SENDER]
    assert closures.count_closed(SENDER) == 2
    assert closure_rows(closures._sessions, SENDER) == [("closed", 1), ("closed", 1)]


# --- conversations held by a human agent --------------------------------------------------


@pytest.mark.parametrize("status", ["waiting", "assigned"])
def test_a_conversation_with_an_open_handoff_is_left_alone(
    sweeper, tracker_engine, session_factory, closer, closures, status
):
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))
    add_event(tracker_engine, "web-2", "user", NOW - timedelta(seconds=400))
    add_handoff(session_factory, SENDER, status)

    assert sweeper.sweep() == 1

    assert closer.calls == ["web-2"]
    assert closures.count_closed(SENDER) == 0
    assert closure_rows(session_factory, SENDER) == []


def test_a_resolved_handoff_does_not_hold_the_conversation(
    sweeper, tracker_engine, session_factory, closer
):
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))
    add_handoff(session_factory, SENDER, "resolved")

    assert sweeper.sweep() == 1
    assert closer.calls == [SENDER]


def test_the_silence_is_closed_once_the_agent_lets_go(
    sweeper, tracker_engine, session_factory, closer, clock
):
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))
    add_handoff(session_factory, SENDER, "assigned")
    assert sweeper.sweep() == 0

    # Resolved just now: the citizen's silence was time with the agent, and the bot has just
    # asked for a rating - not idle yet.
    set_handoff_status(session_factory, SENDER, "resolved", ended_at=NOW)
    clock.advance(60)
    assert sweeper.sweep() == 0

    # Idle for the idle time since the handoff ended: closed.
    clock.advance(IDLE)
    assert sweeper.sweep() == 1
    assert closer.calls == [SENDER]


# --- failures -----------------------------------------------------------------------------


def test_a_failed_close_is_retried_up_to_max_attempts_then_given_up(
    tracker_engine, closures, clock, session_factory
):
    closer = FakeCloser(results=[False] * 10)
    sweeper = IdleSweeper(tracker_engine, closures, closer, IDLE, clock=clock)
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))

    for _ in range(MAX_ATTEMPTS + 2):
        assert sweeper.sweep() == 0
        clock.advance(15)

    assert closer.calls == [SENDER] * MAX_ATTEMPTS
    assert closures.count_closed(SENDER) == 0
    assert closure_rows(session_factory, SENDER) == [("failed", MAX_ATTEMPTS)]


def test_a_close_that_fails_once_succeeds_on_the_next_pass(
    tracker_engine, closures, clock, session_factory
):
    closer = FakeCloser(results=[False, True])
    sweeper = IdleSweeper(tracker_engine, closures, closer, IDLE, clock=clock)
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))

    assert sweeper.sweep() == 0
    assert sweeper.sweep() == 1
    assert sweeper.sweep() == 0

    assert closer.calls == [SENDER, SENDER]
    assert closure_rows(session_factory, SENDER) == [("closed", 2)]


def test_a_given_up_silence_does_not_block_the_next_one(
    tracker_engine, closures, clock, session_factory
):
    closer = FakeCloser(results=[False] * MAX_ATTEMPTS)
    sweeper = IdleSweeper(tracker_engine, closures, closer, IDLE, clock=clock)
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))
    for _ in range(MAX_ATTEMPTS):
        sweeper.sweep()

    add_event(tracker_engine, SENDER, "user", clock())
    clock.advance(IDLE)
    assert sweeper.sweep() == 1
    assert closure_rows(session_factory, SENDER) == [("failed", MAX_ATTEMPTS), ("closed", 1)]


# --- two sweepers at once -----------------------------------------------------------------


def _sweeper_on_own_engines(tracker_path, db_url, closer, clock, engines):
    tracker = tracker_engine_at(tracker_path)
    helpdesk = make_engine(db_url)
    engines.extend([tracker, helpdesk])
    return IdleSweeper(
        tracker, IdleClosureRepository(make_session_factory(helpdesk)), closer, IDLE, clock=clock
    )


def _sweep_in_threads(sweepers: list[IdleSweeper]) -> list[int]:
    start = threading.Barrier(len(sweepers))
    results: list[int] = [0] * len(sweepers)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(timeout=10)
            results[index] = sweepers[index].sweep()
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sweepers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    return results


def _meet_after_reading_the_claim(engines: list[Engine]) -> threading.Barrier:
    """Make both sweepers read the closure row before either writes it (the race window)."""
    meeting = threading.Barrier(len(engines))
    met: set[int] = set()

    for engine in engines:

        @event.listens_for(engine, "after_cursor_execute")
        def _wait(conn, cursor, statement, parameters, context, executemany, key=id(engine)):
            if key in met or not statement.lstrip().upper().startswith("SELECT"):
                return
            if "FROM idle_closure" not in statement:
                return
            met.add(key)
            # A broken barrier means the other sweeper is serialised behind this one: no race.
            with contextlib.suppress(threading.BrokenBarrierError):
                meeting.wait(timeout=2)

    return meeting


def test_two_sweepers_racing_close_each_conversation_once(
    tracker_path, db_url, engine, tracker_engine
):
    senders = [f"62812000000{i:02d}" for i in range(20)]
    for sender in senders:
        add_event(tracker_engine, sender, "user", NOW - timedelta(seconds=400))
    closer, clock, engines = FakeCloser(), FakeClock(), []
    try:
        sweepers = [
            _sweeper_on_own_engines(tracker_path, db_url, closer, clock, engines) for _ in range(2)
        ]
        results = _sweep_in_threads(sweepers)
    finally:
        for engine in engines:
            engine.dispose()

    assert Counter(closer.calls) == Counter(senders)
    assert sum(results) == len(senders)


def test_two_sweepers_reading_a_new_silence_at_the_same_moment_close_it_once(
    tracker_path, db_url, engine, tracker_engine
):
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))
    closer, clock, engines = FakeCloser(), FakeClock(), []
    try:
        sweepers = [
            _sweeper_on_own_engines(tracker_path, db_url, closer, clock, engines) for _ in range(2)
        ]
        meeting = _meet_after_reading_the_claim(engines[1::2])
        results = _sweep_in_threads(sweepers)
    finally:
        for engine in engines:
            engine.dispose()

    assert not meeting.broken, "the two sweepers did not read the claim at the same moment"
    assert closer.calls == [SENDER]
    assert sorted(results) == [0, 1]


def test_two_sweepers_retrying_a_failed_close_at_the_same_moment_close_it_once(
    tracker_path, db_url, tracker_engine, session_factory
):
    add_event(tracker_engine, SENDER, "user", NOW - timedelta(seconds=400))
    clock, engines = FakeClock(), []
    first = FakeCloser(results=[False])
    failing = IdleSweeper(
        tracker_engine, IdleClosureRepository(session_factory), first, IDLE, clock=clock
    )
    assert failing.sweep() == 0
    assert closure_rows(session_factory, SENDER) == [("failed", 1)]

    closer = FakeCloser()
    try:
        sweepers = [
            _sweeper_on_own_engines(tracker_path, db_url, closer, clock, engines) for _ in range(2)
        ]
        _meet_after_reading_the_claim(engines[1::2])
        _sweep_in_threads(sweepers)
    finally:
        for engine in engines:
            engine.dispose()

    assert closer.calls == [SENDER]


# --- run_forever --------------------------------------------------------------------------


@pytest.mark.parametrize("problem", ["missing", "locked"])
def test_run_forever_logs_a_tracker_store_error_and_keeps_sweeping(
    tmp_path, closures, clock, caplog, problem
):
    path = tmp_path / "not-yet" / "tracker.db"
    lock = None
    if problem == "locked":
        path.parent.mkdir()
        setup = tracker_engine_at(path)
        RASA_EVENTS.metadata.create_all(setup)
        add_event(setup, SENDER, "user", NOW - timedelta(seconds=400))
        setup.dispose()
        lock = sqlite3.connect(path, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
    engine = tracker_engine_at(path, timeout=0.05)
    closer = FakeCloser()
    sweeper = IdleSweeper(engine, closures, closer, IDLE, clock=clock)
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="helpdesk.jobs.sweeper")
    thread = threading.Thread(target=sweeper.run_forever, args=(0.02, stop), daemon=True)
    thread.start()
    try:
        failures = lambda: [  # noqa: E731
            r for r in caplog.records if r.getMessage().startswith("idle sweep failed")
        ]
        assert wait_until(lambda: len(failures()) >= 2), "no failed passes were logged"
        assert thread.is_alive()
        assert all(r.levelno == logging.ERROR and r.exc_info for r in failures())

        # The database comes back: the same loop closes the conversation.
        if lock is not None:
            lock.execute("ROLLBACK")
            lock.close()
            lock = None
        else:
            path.parent.mkdir()
            RASA_EVENTS.metadata.create_all(engine)
            add_event(engine, SENDER, "user", NOW - timedelta(seconds=400))
        assert wait_until(lambda: closer.calls == [SENDER]), "the loop did not recover"
    finally:
        stop.set()
        thread.join(timeout=10)
        if lock is not None:
            lock.close()
        engine.dispose()
    assert not thread.is_alive()
    assert closer.calls == [SENDER]
    assert closures.count_closed(SENDER) == 1


def test_run_forever_returns_when_stopped(sweeper):
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    sweeper.run_forever(60, stop)
    assert time.monotonic() - started < 5


# --- RasaClosingClient --------------------------------------------------------------------


@responses.activate
def test_closing_client_runs_the_idle_action_through_the_http_api():
    sender = "wa:6281234567890/1 x"
    path = "/conversations/wa%3A6281234567890%2F1%20x/execute"
    responses.add(responses.POST, f"{RASA}{path}", json={"tracker": {}}, status=200)

    assert RasaClosingClient(f"{RASA}/", "s3cret").close(sender) is True

    assert len(responses.calls) == 1
    request = responses.calls[0].request
    url = urlsplit(request.url)
    assert url.path == path
    assert parse_qs(url.query) == {"output_channel": ["latest"], "token": ["s3cret"]}
    assert json.loads(request.body) == {"name": IDLE_ACTION} == {"name": "action_idle_close"}


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 500, "json": {"message": "boom"}},
        {"status": 401, "json": {"message": "token"}},
        {"body": requests.ConnectionError("refused")},
        {"body": requests.Timeout("slow")},
    ],
    ids=["http-500", "http-401", "connection-error", "timeout"],
)
@responses.activate
def test_closing_client_reports_failure_and_logs_without_the_sender_id(caplog, reply):
    responses.add(responses.POST, f"{RASA}/conversations/{SENDER}/execute", **reply)
    caplog.set_level(logging.WARNING, logger="helpdesk.rasa_bridge.client")

    assert RasaClosingClient(RASA, "s3cret").close(SENDER) is False

    assert "running action_idle_close for *********7890 failed" in caplog.text
    assert SENDER not in caplog.text
    assert "s3cret" not in caplog.text


def test_closing_client_against_a_closed_port_returns_false(caplog):
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    assert RasaClosingClient(f"http://127.0.0.1:{port}", "t", timeout=2).close(SENDER) is False
    assert "ConnectionError" in caplog.text


# --- `helpdesk sweeper` -------------------------------------------------------------------


@pytest.fixture
def sweeper_env(tmp_path, monkeypatch) -> dict[str, str]:
    """Environment of a `helpdesk sweeper` run on temp databases; fresh settings and services."""
    env = {
        "HELPDESK_VAR_DIR": str(tmp_path / "var"),
        "HELPDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'helpdesk.db'}",
        "RASA_TRACKER_STORE_URL": "",
        "RASA_TRACKER_DB": str(tmp_path / "rasa" / "tracker.db"),
        "RASA_URL": RASA,
        "RASA_API_TOKEN": "t0ken",
        "HELPDESK_IDLE_SECONDS": "60",
        "HELPDESK_SWEEPER_HOST": "127.0.0.1",
        "HELPDESK_SWEEPER_PORT": str(free_port()),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    previous = services_module._services
    get_settings.cache_clear()
    set_services(None)
    yield env
    get_settings.cache_clear()
    set_services(previous)


def _tracker_with(env: dict[str, str], events: list[tuple[str, float]]) -> None:
    path = Path(env["RASA_TRACKER_DB"])
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = tracker_engine_at(path)
    RASA_EVENTS.metadata.create_all(engine)
    for sender, stamp in events:
        add_event(engine, sender, "user", stamp)
    engine.dispose()


@responses.activate
def test_cli_sweeper_once_closes_idle_conversations_through_rasa(sweeper_env, capsys):
    _tracker_with(sweeper_env, [(SENDER, time.time() - 120), ("web-2", time.time() - 5)])
    responses.add(responses.POST, f"{RASA}/conversations/{SENDER}/execute", json={}, status=200)

    assert main(["sweeper", "--once"]) == 0
    assert capsys.readouterr().out.strip() == "closed 1 idle conversation(s)"
    assert len(responses.calls) == 1
    assert parse_qs(urlsplit(responses.calls[0].request.url).query)["token"] == ["t0ken"]

    # A second run (a new process would see the same helpdesk database) closes nothing.
    get_settings.cache_clear()
    set_services(None)
    assert main(["sweeper", "--once"]) == 0
    assert capsys.readouterr().out.strip() == "closed 0 idle conversation(s)"
    assert len(responses.calls) == 1
    repository = IdleClosureRepository(services_module.get_services().session_factory)
    assert repository.count_closed(SENDER) == 1


@responses.activate
def test_cli_sweeper_once_counts_a_failed_close_as_not_closed(sweeper_env, capsys):
    _tracker_with(sweeper_env, [(SENDER, time.time() - 120)])
    responses.add(responses.POST, f"{RASA}/conversations/{SENDER}/execute", status=503)

    assert main(["sweeper", "--once"]) == 0
    assert capsys.readouterr().out.strip() == "closed 0 idle conversation(s)"
    assert len(responses.calls) == 1


def test_cli_sweeper_help_lists_once_and_interval(capsys):
    assert main(["sweeper", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--once" in out and "--interval" in out


def test_cli_sweeper_loop_retries_until_given_up_and_stops_on_sigterm(sweeper_env, tmp_path):
    """`helpdesk sweeper` as `make run` starts it: a loop that ends cleanly on SIGTERM."""
    _tracker_with(sweeper_env, [(SENDER, time.time() - 120)])
    with socket.socket() as probe:  # the Rasa server is down: every close fails
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **sweeper_env, "RASA_URL": f"http://127.0.0.1:{port}"}
    helpdesk = Path(sys.executable).parent / "helpdesk"
    proc = subprocess.Popen(
        [str(helpdesk), "sweeper", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = sweeper_env["HELPDESK_DATABASE_URL"]
    try:
        engine = None

        def given_up() -> bool:
            nonlocal engine
            if not Path(url.removeprefix("sqlite:///")).exists():
                return False
            engine = engine or make_engine(url)
            try:
                return closure_rows(make_session_factory(engine), SENDER) == [
                    ("failed", MAX_ATTEMPTS)
                ]
            except Exception:  # not migrated yet
                return False

        assert wait_until(given_up, timeout=60), "the sweeper did not give up after retries"
        time.sleep(0.5)  # a few more passes: no further attempt
        assert closure_rows(make_session_factory(engine), SENDER) == [("failed", MAX_ATTEMPTS)]
        # Its /healthz and /metrics, on the port `make run` gives it.
        ops = f"http://127.0.0.1:{sweeper_env['HELPDESK_SWEEPER_PORT']}"
        health = requests.get(f"{ops}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert set(health.json()["checks"]) == {"tracker_store", "database"}
        scraped = requests.get(f"{ops}/metrics", timeout=10).text
        assert f'helpdesk_idle_closures_total{{outcome="failed"}} {float(MAX_ATTEMPTS)}' in scraped
        assert 'helpdesk_sweeps_total{outcome="ok"}' in scraped
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if engine is not None:
            engine.dispose()
    assert proc.returncode == 0, out
    assert "idle sweeper: closing conversations idle for 60 s" in out
    assert "/healthz and /metrics" in out
    assert out.count("running action_idle_close for *********7890 failed") == MAX_ATTEMPTS
    assert SENDER not in out


def test_an_idle_time_beyond_rasas_session_expiry_is_refused(tracker_engine, closures):
    with pytest.raises(ValueError, match="HELPDESK_IDLE_SECONDS=3600 must be below 3300"):
        IdleSweeper(tracker_engine, closures, FakeCloser(), 3600)
