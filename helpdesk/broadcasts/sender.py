"""`BroadcastSender`: sends the due broadcasts, throttled, exactly once per recipient.

Each pass takes the broadcasts that are sending (or whose scheduled time came), settles the
recipients a crash left in flight (`BroadcastRepository.reconcile`), then claims recipients in
batches and posts their messages at no more than `rate` a second, recording each answer at
once. The claim is committed before any request leaves, so after a crash nothing is sent again
that the platform may have accepted; see `helpdesk.broadcasts.whatsapp` for what each answer
means. A supervisor's pause or cancel is seen between batches.

Only one process sends (`leadership`, like the desk worker); the pass is safe to run again at
any time: it resumes where the database says the broadcast is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

from helpdesk.broadcasts.whatsapp import Outcome, SendResult
from helpdesk.conversation.message_templates import (
    MessageTemplate,
    ParameterError,
    TemplateRegistry,
    template_message,
)
from helpdesk.jobs.loop import LeaderLoop
from helpdesk.storage.enums import BroadcastStatus

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.services import Services
    from helpdesk.storage.broadcasts import BroadcastRepository, RecipientRecord
    from helpdesk.storage.leader import Leadership

logger = logging.getLogger("helpdesk.broadcasts")

#: Recipients claimed per batch (a pause or cancel is seen between batches).
BATCH = 50
#: Requests in flight at once.
CONCURRENCY = 4
#: A recipient unconfirmed this long with no proof either way is given up (never resent).
GIVE_UP = timedelta(hours=1)
#: Seconds to wait after a throttled answer without Retry-After.
THROTTLE_PAUSE = 2.0


class MessageClient(Protocol):
    def send(self, body: dict) -> SendResult: ...


@dataclass
class SendReport:
    """What one pass did (for logs and tests)."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    uncertain: int = 0
    released: int = 0
    given_up: int = 0
    paused: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.sent
            or self.failed
            or self.retried
            or self.uncertain
            or self.released
            or self.given_up
            or self.paused
            or self.finished
        )


class Pacer:
    """At most `rate` calls a second across threads (each call waits for its slot)."""

    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.interval = 1.0 / rate
        self.sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self.sleep(slot - now)

    def hold(self, seconds: float) -> None:
        """Nothing goes out for `seconds` (the platform asked us to slow down)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


class BroadcastSender(LeaderLoop):
    """Sends what is due (see the module docstring).

    Args:
        repository: The broadcasts' store.
        templates: Returns the approved templates (read again each pass: edits apply).
        client: Posts one message (`CloudApiSender`).
        rate: Messages a second at most.
        grace: How long a claimed, unconfirmed message waits for its status callback.
        give_up: How long before such a message, with nothing proving it was not sent, is
            marked failed instead.
        interval: Seconds between passes of the loop.
        leadership: Only the process holding it sends (None: this one always does).
        clock: The current aware time.
    """

    def __init__(
        self,
        repository: "BroadcastRepository",
        templates: Callable[[], TemplateRegistry],
        client: MessageClient,
        *,
        rate: float = 20.0,
        grace: timedelta = timedelta(minutes=2),
        give_up: timedelta = GIVE_UP,
        batch: int = BATCH,
        concurrency: int = CONCURRENCY,
        interval: float = 5.0,
        leadership: "Leadership | None" = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        if batch < 1 or concurrency < 1:
            raise ValueError("batch and concurrency must be >= 1")
        super().__init__(interval=interval, leadership=leadership, label="broadcasts", log=logger)
        self.repository = repository
        self.templates = templates
        self.client = client
        self.pacer = Pacer(rate)
        self.grace = grace
        self.give_up = give_up
        self.batch = batch
        self.concurrency = concurrency
        self.clock = clock

    # --- one pass ------------------------------------------------------------------------

    def run_once(self) -> SendReport:
        report = SendReport()
        for broadcast_id in self.repository.due(self.clock()):
            if self.stopping:
                break
            self._send(broadcast_id, report)
        return report

    def _send(self, broadcast_id: int, report: SendReport) -> None:
        broadcast = self.repository.get(broadcast_id)
        if broadcast is None:
            return
        template = self.templates().get(broadcast.template_name)
        if template is None or template.language != broadcast.template_language:
            self._pause(broadcast_id, "templat tidak ada lagi di registri templat", report)
            return
        released, given_up = self.repository.reconcile(
            broadcast_id, grace=self.grace, give_up=self.give_up, now=self.clock()
        )
        report.released += released
        report.given_up += given_up
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="broadcast") as pool:
            while not self.stopping:
                current = self.repository.get(broadcast_id)
                if current is None or current.status != BroadcastStatus.SENDING:
                    return
                claimed = self.repository.claim(broadcast_id, self.batch, self.clock())
                if not claimed:
                    break
                stop = threading.Event()
                results = list(
                    pool.map(
                        self._one,
                        claimed,
                        [template] * len(claimed),
                        [stop] * len(claimed),
                        [report] * len(claimed),
                    )
                )
                if any(result == Outcome.STOP for result in results):
                    return
        self.repository.finish_if_done(broadcast_id, self.clock())
        if self.repository.get(broadcast_id) is not None and self.repository.in_flight(
            broadcast_id
        ):
            logger.info("broadcast %d: messages await their status callbacks", broadcast_id)

    def _one(
        self,
        recipient: "RecipientRecord",
        template: MessageTemplate,
        stop: threading.Event,
        report: SendReport,
    ) -> Outcome | None:
        if stop.is_set() or self.stopping:
            self.repository.release(recipient.id)
            return None
        try:
            body = template_message(
                recipient.phone,
                template,
                {**recipient.variables, "name": recipient.name},
                callback_data=recipient.callback_key,
            )
        except ParameterError as exc:
            self.repository.mark_failed(recipient.id, f"nilai templat: {exc}", self.clock())
            report.failed += 1
            return Outcome.REFUSED
        self.pacer.wait()
        if stop.is_set():
            self.repository.release(recipient.id)
            return None
        result = self.client.send(body)
        now = self.clock()
        if result.outcome == Outcome.ACCEPTED:
            self.repository.mark_sent(recipient.id, result.message_id or "", now)
            report.sent += 1
        elif result.outcome == Outcome.REFUSED:
            self.repository.mark_failed(recipient.id, result.error or "ditolak", now)
            report.failed += 1
        elif result.outcome == Outcome.RETRY:
            self.repository.release(recipient.id)
            self.pacer.hold(result.retry_after or THROTTLE_PAUSE)
            report.retried += 1
        elif result.outcome == Outcome.STOP:
            stop.set()
            self.repository.release(recipient.id)
            self._pause(recipient.broadcast_id, f"dihentikan: {result.error}", report)
        else:
            report.uncertain += 1  # stays claimed: settled by the status callbacks
        return result.outcome

    def _pause(self, broadcast_id: int, note: str, report: SendReport) -> None:
        if self.repository.set_status(
            broadcast_id,
            BroadcastStatus.PAUSED,
            allowed_from=(BroadcastStatus.SENDING,),
            note=note,
            now=self.clock(),
        ):
            logger.warning("broadcast %d paused: %s", broadcast_id, note)
            report.paused.append(broadcast_id)


def build_sender(services: "Services", *, interval: float = 5.0) -> BroadcastSender | None:
    """The sender on the configured WhatsApp number; None when WhatsApp is not configured."""
    from helpdesk.broadcasts.whatsapp import CloudApiSender
    from helpdesk.storage.broadcasts import BroadcastRepository
    from helpdesk.storage.leader import leadership_for

    settings = services.settings
    client = CloudApiSender.from_settings(settings)
    if client is None:
        return None
    return BroadcastSender(
        BroadcastRepository(services.session_factory),
        services.whatsapp_templates,
        client,
        rate=settings.broadcast_rate,
        grace=timedelta(seconds=settings.broadcast_grace_seconds),
        interval=interval,
        leadership=leadership_for(settings.effective_database_url, "broadcasts", settings.var_dir),
    )
