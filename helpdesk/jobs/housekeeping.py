"""Periodic clean-up of what the stores keep only for a while (run by the idle sweeper)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from helpdesk.storage.button_payloads import ButtonPayloadRepository

logger = logging.getLogger(__name__)

#: Long button payloads are kept this long: a button in a chat may be tapped weeks later.
BUTTON_PAYLOAD_RETENTION = timedelta(days=90)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Housekeeping:
    """Forgets long button payloads past their retention, at most once per `every`.

    Idempotent and safe in several processes at once (each delete only removes old rows).
    """

    button_payloads: ButtonPayloadRepository
    every: timedelta = timedelta(hours=1)
    retention: timedelta = BUTTON_PAYLOAD_RETENTION
    clock: Callable[[], datetime] = _utcnow
    _last: datetime | None = field(default=None, init=False)

    def run_if_due(self) -> int | None:
        """Clean up when the last run is `every` ago (or never ran); how many rows went, or
        None when it was not due."""
        now = self.clock()
        if self._last is not None and now - self._last < self.every:
            return None
        self._last = now
        purged = self.button_payloads.purge(self.retention)
        if purged:
            logger.info(
                "forgot %d button payload(s) older than %d days", purged, self.retention.days
            )
        return purged
