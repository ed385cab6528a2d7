"""The retention job: delete or anonymise, in every store of the data map, what is past its
period (`helpdesk.privacy.policy`), in batches; `plan` says what a run would do.

Run by the idle sweeper once a day (`helpdesk.jobs.housekeeping`) and by
`helpdesk privacy purge [--dry-run]`. Safe in several processes at once: each batch only takes
records still past their period and not yet dealt with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from helpdesk.privacy.policy import DATA_MAP, Disposal, RetentionPolicy
from helpdesk.rasa_bridge.retention import TrackerRetention
from helpdesk.storage.attachments import AttachmentFiles
from helpdesk.storage.retention import RetentionRepository

logger = logging.getLogger(__name__)

#: The store kept in Rasa's tracker store, not in the helpdesk database.
TRACKER_STORE = "tracker_events"
#: The store kept as files (`helpdesk.storage.attachments`), not in the helpdesk database.
ATTACHMENT_STORE = "email_attachments"


@dataclass(frozen=True)
class PurgeLine:
    """One store in a plan or a run: what happens to how many records older than `cutoff`."""

    store: str
    disposal: Disposal
    days: int
    cutoff: datetime | None
    count: int


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Retention:
    """The retention of every store, by the policy."""

    def __init__(
        self,
        policy: RetentionPolicy,
        repository: RetentionRepository,
        tracker: TrackerRetention | None,
        *,
        attachments: AttachmentFiles | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.policy = policy
        self.repository = repository
        self.tracker = tracker
        self.attachments = attachments
        self.clock = clock

    def _lines(self, act: Callable[[str, datetime], int]) -> list[PurgeLine]:
        now = self.clock()
        lines = []
        for store in DATA_MAP:
            period = self.policy.period(store.key)
            absent = (store.key == TRACKER_STORE and self.tracker is None) or (
                store.key == ATTACHMENT_STORE and self.attachments is None
            )
            if period is None or absent:
                lines.append(PurgeLine(store.key, store.disposal, 0, None, 0))
                continue
            cutoff = now - period
            lines.append(
                PurgeLine(store.key, store.disposal, period.days, cutoff, act(store.key, cutoff))
            )
        return lines

    def plan(self) -> list[PurgeLine]:
        """What a run would delete or anonymise now, store by store (nothing changes)."""

        def count(key: str, cutoff: datetime) -> int:
            if key == TRACKER_STORE:
                assert self.tracker is not None
                return self.tracker.due(cutoff)
            if key == ATTACHMENT_STORE:
                assert self.attachments is not None
                return self.attachments.due(cutoff)
            return self.repository.due(key, cutoff)

        return self._lines(count)

    def run(self, *, batch: int = 500, max_batches: int | None = None) -> list[PurgeLine]:
        """Delete or anonymise what is past its period, `batch` records a transaction, at most
        `max_batches` per store (None: until none is left); what was done."""

        def purge(key: str, cutoff: datetime) -> int:
            total = 0
            batches = 0
            while max_batches is None or batches < max_batches:
                if key == TRACKER_STORE:
                    assert self.tracker is not None
                    done = self.tracker.purge_batch(cutoff, batch=batch)
                elif key == ATTACHMENT_STORE:
                    assert self.attachments is not None
                    done = self.attachments.purge(cutoff, limit=batch)
                else:
                    done = self.repository.purge_batch(key, cutoff, batch=batch)
                total += done
                batches += 1
                if done < batch:
                    break
            if total:
                logger.info("retention: %s: %d record(s) dealt with", key, total)
            return total

        return self._lines(purge)
