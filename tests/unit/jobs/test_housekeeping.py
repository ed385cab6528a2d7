"""Housekeeping between sweeps: old button payloads are forgotten, at most once per period."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from helpdesk.jobs.housekeeping import (
    BUTTON_PAYLOAD_RETENTION,
    RETENTION_BATCHES_PER_PASS,
    Housekeeping,
)
from helpdesk.jobs.sweeper import IdleSweeper
from helpdesk.storage.button_payloads import ButtonPayloadRepository
from helpdesk.storage.db import session_scope
from helpdesk.storage.idle_closures import IdleClosureRepository
from helpdesk.storage.models import ButtonPayload, utcnow


def _age(session_factory, short_id: str, days: int) -> None:
    with session_scope(session_factory) as session:
        session.execute(
            update(ButtonPayload)
            .where(ButtonPayload.short_id == short_id)
            .values(created_at=utcnow() - timedelta(days=days))
        )


def test_old_payloads_go_once_per_period(session_factory) -> None:
    payloads = ButtonPayloadRepository(session_factory)
    payloads.save("tg:old", "/old" + "x" * 80)
    payloads.save("tg:new", "/new" + "x" * 80)
    _age(session_factory, "tg:old", BUTTON_PAYLOAD_RETENTION.days + 1)
    now = [datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc)]
    housekeeping = Housekeeping(payloads, clock=lambda: now[0])

    assert housekeeping.run_if_due() == 1
    assert payloads.get("tg:old") is None and payloads.get("tg:new") is not None
    _age(session_factory, "tg:new", BUTTON_PAYLOAD_RETENTION.days + 1)
    now[0] += timedelta(minutes=30)
    assert housekeeping.run_if_due() is None  # not due yet
    now[0] += timedelta(minutes=31)
    assert housekeeping.run_if_due() == 1


def test_the_data_retention_job_runs_with_the_housekeeping(session_factory) -> None:
    class Job:
        runs: list[int | None] = []

        def run(self, *, max_batches: int | None = None) -> list:
            Job.runs.append(max_batches)
            return [type("Line", (), {"count": 3})()]

    now = [datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc)]
    housekeeping = Housekeeping(
        ButtonPayloadRepository(session_factory), clock=lambda: now[0], data_retention=Job()
    )

    assert housekeeping.run_if_due() == 3
    assert housekeeping.run_if_due() is None
    assert Job.runs == [RETENTION_BATCHES_PER_PASS]


def test_the_sweeper_runs_housekeeping_and_survives_its_failure(session_factory, engine) -> None:
    class Broken:
        calls = 0

        def run_if_due(self) -> int:
            Broken.calls += 1
            raise RuntimeError("database is locked")

    stop = threading.Event()
    sweeper = IdleSweeper(
        engine, IdleClosureRepository(session_factory), lambda _: True, 300, housekeeping=Broken()
    )
    sweeper.sweep = lambda: stop.set() or 0  # one pass, then stop
    sweeper.run_forever(0.01, stop)
    assert Broken.calls == 1
