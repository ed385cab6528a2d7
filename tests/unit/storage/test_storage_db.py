"""Engine settings, sessions, concurrent migration and the locked-database retry."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from helpdesk.storage import db
from helpdesk.storage.db import (
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    retry_on_locked,
    session_scope,
    upgrade,
)
from helpdesk.storage.feedback import CsatRepository
from helpdesk.storage.models import CsatRating


def test_make_engine_sqlite_creates_folder_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "h.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    assert path.parent.is_dir()
    engine.dispose()


def test_in_memory_engine_is_shared_across_sessions_and_threads() -> None:
    engine = make_engine("sqlite://")
    upgrade(engine)
    factory = make_session_factory(engine)
    CsatRepository(factory).add("u1", 5)

    counted: list[int] = []

    def count_in_thread() -> None:
        with session_scope(factory) as session:
            counted.append(session.execute(select(func.count(CsatRating.id))).scalar_one())

    worker = threading.Thread(target=count_in_thread)
    worker.start()
    worker.join()
    assert counted == [1]


def test_upgrade_is_idempotent(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision() == "0019"
    engine.dispose()


def _upgrade_in_child(url: str, start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    upgrade(url)


def test_concurrent_upgrade_from_two_processes(db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.5  # both children are imported and waiting by then
    children = [ctx.Process(target=_upgrade_in_child, args=(db_url, start_at)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
    assert [child.exitcode for child in children] == [0, 0, 0]
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_upgrade_waits_for_a_migration_in_progress(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second upgrade arriving mid-migration waits, then finds the schema current."""
    from alembic import command

    original = command.upgrade
    first_inside = threading.Event()

    def slow_upgrade(config, revision):  # the first caller holds its transaction open
        original(config, revision)
        if not first_inside.is_set():
            first_inside.set()
            time.sleep(0.5)

    monkeypatch.setattr(command, "upgrade", slow_upgrade)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(db_url)
        except BaseException as exc:
            errors.append(exc)

    first = threading.Thread(target=run)
    first.start()
    assert first_inside.wait(10)
    second = threading.Thread(target=run)
    second.start()
    first.join(10)
    second.join(10)
    assert errors == []
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_session_scope_commits_and_rolls_back(session_factory) -> None:
    with session_scope(session_factory) as session:
        session.add(CsatRating(sender_id="a", rating=4, kind="faq"))
    with pytest.raises(RuntimeError), session_scope(session_factory) as session:
        session.add(CsatRating(sender_id="b", rating=4, kind="faq"))
        session.flush()
        raise RuntimeError("boom")
    with session_scope(session_factory) as session:
        senders = session.execute(select(CsatRating.sender_id)).scalars().all()
    assert senders == ["a"]


def _locked_error() -> OperationalError:
    return OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))


def test_retry_on_locked_retries_then_succeeds() -> None:
    calls: list[int] = []
    pauses: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _locked_error()
        return "done"

    assert retry_on_locked(flaky, sleep=pauses.append) == "done"
    assert len(calls) == 3
    assert len(pauses) == 2 and pauses[1] > pauses[0]


def test_retry_on_locked_gives_up_and_does_not_retry_other_errors() -> None:
    pauses: list[float] = []

    def always_locked() -> None:
        raise _locked_error()

    with pytest.raises(OperationalError):
        retry_on_locked(always_locked, attempts=3, sleep=pauses.append)
    assert len(pauses) == 2

    def other_error() -> None:
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))

    with pytest.raises(OperationalError):
        retry_on_locked(other_error, sleep=pauses.append)
    assert len(pauses) == 2


def _hold_write_lock(path: str, seconds: float, locked: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO csat_rating (sender_id, rating, kind, created_at) "
        "VALUES ('holder', 3, 'faq', '2026-04-14 00:00:00')"
    )
    locked.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


def test_write_survives_a_lock_longer_than_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 20)  # make SQLite give up fast
    engine = make_engine(url)
    factory = make_session_factory(engine)
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(str(path), 0.4, locked))
    holder.start()
    assert locked.wait(5)
    CsatRepository(factory).add("citizen", 5, question="q", faq_id="f")
    holder.join()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sender_id FROM csat_rating ORDER BY id")).all()
    assert sorted(r[0] for r in rows) == ["citizen", "holder"]
    assert "database is locked" in caplog.text
    engine.dispose()
