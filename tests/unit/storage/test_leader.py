"""One leader among processes (helpdesk/storage/leader.py), on SQLite (a lock file) and on
PostgreSQL (an advisory lock; `pytest --db=postgres`)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from helpdesk.handoff.worker import DeskWorker
from helpdesk.storage.leader import FileLeadership, PostgresLeadership, leadership_for

ROOT = Path(__file__).resolve().parents[3]


def _leadership(db_url: str, tmp_path: Path, name: str = "desk-worker"):
    return leadership_for(db_url, name, tmp_path)


def test_one_process_leads_and_the_next_takes_over_on_release(db_url, tmp_path) -> None:
    first, second = _leadership(db_url, tmp_path), _leadership(db_url, tmp_path)
    try:
        assert first.acquire() is True
        assert first.acquire() is True  # the holder keeps it
        assert second.acquire() is False
        first.release()
        assert second.acquire() is True
        assert first.acquire() is False
    finally:
        first.release()
        second.release()


def test_different_work_has_different_leaders(db_url, tmp_path) -> None:
    desk, other = _leadership(db_url, tmp_path), _leadership(db_url, tmp_path, "other-work")
    try:
        assert desk.acquire() and other.acquire()
    finally:
        desk.release()
        other.release()


def test_the_lead_passes_on_when_the_leader_is_killed(db_url, tmp_path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from helpdesk.storage.leader import leadership_for\n"
            "lead = leadership_for(sys.argv[1], 'desk-worker', Path(sys.argv[2]))\n"
            "print('leads' if lead.acquire() else 'waits', flush=True)\n"
            "time.sleep(120)\n",
            db_url,
            str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    waiting = _leadership(db_url, tmp_path)
    try:
        assert holder.stdout.readline().strip() == "leads"
        assert waiting.acquire() is False
        holder.kill()  # SIGKILL: no clean release
        holder.wait(10)
        deadline = time.monotonic() + 10
        while not waiting.acquire():
            assert time.monotonic() < deadline, "the lead was not taken over within 10 s"
            time.sleep(0.2)
    finally:
        if holder.poll() is None:
            holder.kill()
        waiting.release()


def test_a_leader_that_lost_its_connection_stops_leading(db_url, tmp_path) -> None:
    if make_url(db_url).get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL only (pytest --db=postgres)")
    first, second = _leadership(db_url, tmp_path), _leadership(db_url, tmp_path)
    assert isinstance(first, PostgresLeadership)
    try:
        assert first.acquire()
        admin = create_engine(db_url, future=True, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:  # the database drops the leader's session
            connection.execute(  # waits up to 5 s for the session to end
                text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() "
                    "AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                )
            )
        admin.dispose()
        deadline = time.monotonic() + 5
        while not second.acquire():
            assert time.monotonic() < deadline, "the lock was not freed within 5 s"
            time.sleep(0.1)
        assert first.acquire() is False  # it notices, and the other one leads now
    finally:
        first.release()
        second.release()


def test_sqlite_leads_with_a_lock_file_beside_the_database(tmp_path) -> None:
    lead = leadership_for(f"sqlite:///{tmp_path / 'var' / 'helpdesk.db'}", "desk-worker", tmp_path)
    assert isinstance(lead, FileLeadership)
    assert lead.path == tmp_path / "var" / "desk-worker.leader.lock"
    assert isinstance(leadership_for("sqlite://", "desk-worker", tmp_path), FileLeadership)


class _Lead:
    name = "desk-worker"

    def __init__(self, leads: bool) -> None:
        self.leads = leads
        self.released = False

    def acquire(self) -> bool:
        return self.leads

    def release(self) -> None:
        self.released = True


class _CountingWorker(DeskWorker):
    def __init__(self, leadership) -> None:
        super().__init__(None, None, None, interval=0.05, leadership=leadership)  # type: ignore[arg-type]
        self.passes = 0
        self.ran = threading.Event()

    def run_once(self):  # type: ignore[override]
        self.passes += 1
        self.ran.set()
        return None


def test_a_desk_worker_that_does_not_lead_makes_no_passes() -> None:
    lead = _Lead(leads=False)
    worker = _CountingWorker(lead)
    worker.start()
    try:
        time.sleep(0.3)
        assert worker.passes == 0
        lead.leads = True  # the leader died: this one takes over
        assert worker.ran.wait(2)
    finally:
        worker.stop()
    assert lead.released
