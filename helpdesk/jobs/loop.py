"""`LeaderLoop`: a pass every few seconds in a daemon thread, made only by the process that
holds the lead (`helpdesk.storage.leader`), for the background work of the desk's process (the
desk worker, the broadcast sender).

A pass that raises (a locked database, a Rasa restart) is logged and tried again after the
interval: it must never end the loop. `wake()` asks for a pass at once.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.storage.leader import Leadership


class LeaderLoop:
    """Calls `run_once()` every `interval` seconds while this process leads.

    Args:
        interval: Seconds between passes when nobody wakes the loop.
        leadership: When several processes run the loop, only the one holding it makes
            passes; None: this one always does.
        label: Names the loop's thread and its log lines ("desk worker").
        log: Where passes that did something, and failures, are logged.
    """

    def __init__(
        self,
        *,
        interval: float,
        leadership: "Leadership | None",
        label: str,
        log: logging.Logger,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be > 0")
        self.interval = interval
        self.leadership = leadership
        self._label = label
        self._log = log
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Any:
        """One pass; what it returns is logged when true (a report of what it did)."""
        raise NotImplementedError

    def wake(self) -> None:
        """Make a pass now."""
        self._wake.set()

    def start(self) -> None:
        """Make passes in a daemon thread until `stop()`."""
        if self._thread is not None:
            return
        self._stop.clear()  # a loop stopped before can be started again
        self._thread = threading.Thread(
            target=self._loop, name=self._label.replace(" ", "-"), daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the loop (after the pass in work) and give up the lead."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.leadership is not None:
            self.leadership.release()

    @property
    def stopping(self) -> bool:
        """Whether `stop()` was called (long passes check it between steps)."""
        return self._stop.is_set()

    def leads(self) -> bool:
        """Whether this process makes the passes now (takes the lead when it is free)."""
        return self.leadership is None or self.leadership.acquire()

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Cleared before the pass, not after the wait: a wake() arriving while the pass
            # runs (or just after the wait timed out) then gives one more pass at once
            # instead of being lost until the next interval.
            self._wake.clear()
            try:
                if not self.leads():  # another process leads; take over if it dies
                    self._wake.wait(self.interval)
                    continue
                report = self.run_once()
                if report:
                    self._log.info("%s: %s", self._label, report)
            except Exception:  # a locked database or a Rasa restart must not end the loop
                self._log.exception(
                    "%s pass failed; retrying in %.0f s", self._label, self.interval
                )
            self._wake.wait(self.interval)
