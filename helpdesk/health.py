"""Health checks of a process's dependencies, for its `/healthz`.

A process lists what it depends on as `Check`s (the helpdesk database, Rasa's tracker store,
the FAQ index, ...). `run_checks` runs them all at once, each in its own thread with a time
limit, and returns a `HealthReport`: HTTP 200 with `"status": "ok"` when every required check
passed, 503 with `"status": "error"` otherwise. An optional check (the backend API, which the
actions answer politely when it is down) is reported without changing the status. The body::

    {"status": "error",
     "checks": {"database": {"status": "error", "required": true, "error": "OperationalError",
                             "ms": 12},
                "faq_index": {"status": "ok", "required": true, "detail": "loaded, 98 entries",
                              "ms": 0}}}

A failure shows the exception's type only, or the message of a `CheckFailed` (written to be
shown): other messages may hold host names, paths or SQL. The whole error goes to the log,
where identifiers are masked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

#: Seconds a check may take before it counts as failed ("timeout").
DEFAULT_TIMEOUT = 3.0


class CheckFailed(Exception):
    """A failed check whose message is fit for the `/healthz` body (e.g. "index stale")."""


@dataclass(frozen=True)
class Check:
    """One dependency of a process.

    Attributes:
        name: The key in the report ("database", "tracker_store", ...).
        probe: Returns a short detail ("revision 0008") or None when the dependency works;
            raises when it does not.
        required: Whether a failure makes the process unhealthy (503).
    """

    name: str
    probe: Callable[[], str | None]
    required: bool = True


@dataclass(frozen=True)
class CheckResult:
    """What one check found."""

    name: str
    ok: bool
    required: bool
    detail: str | None
    error: str | None
    ms: int

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"status": "ok" if self.ok else "error"}
        result["required"] = self.required
        if self.detail:
            result["detail"] = self.detail
        if self.error:
            result["error"] = self.error
        result["ms"] = self.ms
        return result


@dataclass(frozen=True)
class HealthReport:
    """The results of a process's checks."""

    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """Whether every required check passed."""
        return all(result.ok for result in self.results if result.required)

    @property
    def http_status(self) -> int:
        return 200 if self.ok else 503

    @property
    def failed(self) -> list[str]:
        """The names of the checks that failed, required or not."""
        return [result.name for result in self.results if not result.ok]

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of `/healthz`."""
        return {
            "status": "ok" if self.ok else "error",
            "checks": {result.name: result.as_dict() for result in self.results},
        }


def _shown(error: BaseException) -> str:
    return str(error) if isinstance(error, CheckFailed) else type(error).__name__


def run_checks(checks: Sequence[Check], timeout: float = DEFAULT_TIMEOUT) -> HealthReport:
    """Run every check at once, each in a daemon thread, for at most `timeout` seconds in all.

    A check still running after `timeout` counts as failed ("timeout"); its thread is left to
    finish on its own (a database that hangs must not hang the health check).

    Raises:
        ValueError: When two checks have the same name.
    """
    names = [check.name for check in checks]
    if len(set(names)) != len(names):
        raise ValueError(f"check names must be unique: {names}")
    outcomes: dict[str, tuple[bool, str | None, str | None, float]] = {}

    def run(check: Check) -> None:
        start = time.monotonic()
        try:
            detail = check.probe()
        except Exception as error:
            logger.warning(
                "health check %s failed: %s: %s", check.name, type(error).__name__, error
            )
            outcomes[check.name] = (False, None, _shown(error), time.monotonic() - start)
        else:
            outcomes[check.name] = (True, detail, None, time.monotonic() - start)

    threads = [
        threading.Thread(target=run, args=(check,), name=f"healthz-{check.name}", daemon=True)
        for check in checks
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    results = []
    for check in checks:
        found = outcomes.get(check.name)
        if found is None:
            logger.warning("health check %s did not answer within %.1f s", check.name, timeout)
            found = (False, None, "timeout", timeout)
        ok, detail, error, seconds = found
        results.append(
            CheckResult(check.name, ok, check.required, detail, error, int(seconds * 1000))
        )
    return HealthReport(tuple(results))


# ------------------------------------------------------------------- checks several processes use


def database_check(session_factory: Callable[[], Any], name: str = "database") -> Check:
    """The helpdesk database: reachable and migrated (`helpdesk.storage.db.ping_database`).

    Args:
        session_factory: Returns the session factory when called (e.g. a lambda reading
            `Services.session_factory`, which migrates the database on first use).
        name: The check's name.
    """

    def probe() -> str:
        from helpdesk.storage.db import ping_database

        return f"revision {ping_database(session_factory())}"

    return Check(name, probe)


def tracker_store_check(engine: Callable[[], Any], name: str = "tracker_store") -> Check:
    """Rasa's SQL tracker store: reachable, with its `events` table
    (`helpdesk.rasa_bridge.events.ping_tracker_store`).

    Args:
        engine: Returns the tracker store's SQLAlchemy engine when called.
        name: The check's name.
    """

    def probe() -> None:
        from helpdesk.rasa_bridge.events import ping_tracker_store

        ping_tracker_store(engine())

    return Check(name, probe)
