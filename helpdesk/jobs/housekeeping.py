"""Periodic clean-up of what the stores keep only for a while (run by the idle sweeper): long
button payloads, and every store's personal data past its retention period
(`helpdesk.privacy.retention`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from helpdesk.privacy.requests import DataRequests
from helpdesk.privacy.retention import Retention
from helpdesk.storage.button_payloads import ButtonPayloadRepository

logger = logging.getLogger(__name__)

#: Long button payloads are kept this long: a button in a chat may be tapped weeks later.
BUTTON_PAYLOAD_RETENTION = timedelta(days=90)
#: Batches of the retention job per store and pass: a large backlog is worked off over
#: several passes instead of holding the sweeper (and its locks) for long.
RETENTION_BATCHES_PER_PASS = 20


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Housekeeping:
    """Forgets long button payloads past their retention and runs the data retention job
    (when given), at most once per `every`.

    Idempotent and safe in several processes at once (each delete only removes old rows).
    """

    button_payloads: ButtonPayloadRepository
    every: timedelta = timedelta(hours=1)
    retention: timedelta = BUTTON_PAYLOAD_RETENTION
    clock: Callable[[], datetime] = _utcnow
    data_retention: Retention | None = None
    #: Citizens' data requests to carry out (approved ones; erasures once quiet).
    data_requests: DataRequests | None = None
    requests_every: timedelta = timedelta(0)
    _last: datetime | None = field(default=None, init=False)
    _last_requests: datetime | None = field(default=None, init=False)

    def carry_out_requests_if_due(self) -> int | None:
        """Carry out approved data requests when the last look is `requests_every` ago; how
        many, or None when it was not due."""
        if self.data_requests is None:
            return None
        now = self.clock()
        if self._last_requests is not None and now - self._last_requests < self.requests_every:
            return None
        self._last_requests = now
        return self.data_requests.carry_out()

    def run_if_due(self) -> int | None:
        """Clean up when the last run is `every` ago (or never ran); how many rows went, or
        None when it was not due."""
        try:
            self.carry_out_requests_if_due()
        except Exception:  # the clean-up below goes on; the requests are retried next pass
            logger.exception("data requests could not be carried out; retried at the next pass")
        now = self.clock()
        if self._last is not None and now - self._last < self.every:
            return None
        self._last = now
        purged = self.button_payloads.purge(self.retention)
        if purged:
            logger.info(
                "forgot %d button payload(s) older than %d days", purged, self.retention.days
            )
        if self.data_retention is not None:
            done = self.data_retention.run(max_batches=RETENTION_BATCHES_PER_PASS)
            purged += sum(line.count for line in done)
        return purged
