"""The idle-session sweeper: closes conversations nobody has written in for a while.

Every `interval` seconds it looks in Rasa's SQL tracker store for conversations whose last user
message is older than `HELPDESK_IDLE_SECONDS`, and asks the Rasa server (HTTP API, with the
API token) to run `action_idle_close` in each, with `output_channel=latest`: on channels that
can push (WhatsApp, Telegram, web chat) the citizen gets the idle message, the open form is
dropped and the next message starts a new session with the greeting.

State lives in the helpdesk database (`idle_closure`, one row per conversation and last user
message), so a restart never closes a conversation twice; conversations that a human agent
holds (an open `handoff`) are left alone.

While it runs it serves `/healthz` (Rasa's tracker store and the helpdesk database) and
`/metrics` on `HELPDESK_SWEEPER_HOST`:`HELPDESK_SWEEPER_PORT` (`helpdesk.ops_server`); it counts
closures (`helpdesk_idle_closures_total`) and passes (`helpdesk_sweeps_total`,
`helpdesk_sweeper_last_success_timestamp_seconds`).
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy.engine import Engine

from helpdesk import metrics
from helpdesk.health import Check, database_check, tracker_store_check
from helpdesk.jobs.housekeeping import Housekeeping
from helpdesk.rasa_bridge.client import RasaClient
from helpdesk.rasa_bridge.events import last_user_messages
from helpdesk.storage.idle_closures import IdleClosureRepository

logger = logging.getLogger(__name__)

#: The action the sweeper runs in an idle conversation.
IDLE_ACTION = "action_idle_close"
#: Conversations whose last message is older than this are never swept (e.g. on first start).
#: Rasa's own session expiry (domain/session.yml, 60 minutes) already closed the older ones: the
#: next message starts a new session. Running the idle action there would first make Rasa start
#: that new session with no channel to greet on (its /execute endpoint does that), so stay short
#: of it.
LOOKBACK = timedelta(minutes=55)
#: Attempts before a conversation that the Rasa server keeps failing to close is given up.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class IdleConversation:
    """A conversation whose last user message is older than the idle time."""

    sender_id: str
    last_user_at: datetime


def find_idle(engine: Engine, now: datetime, idle: timedelta) -> list[IdleConversation]:
    """Conversations in Rasa's tracker store idle for at least `idle` (within `LOOKBACK`)."""
    rows = last_user_messages(
        engine, after=(now - LOOKBACK).timestamp(), until=(now - idle).timestamp()
    )
    return [
        IdleConversation(sender_id, datetime.fromtimestamp(last_user, tz=timezone.utc))
        for sender_id, last_user in rows
    ]


class RasaClosingClient(RasaClient):
    """Runs `action_idle_close` through the Rasa server's HTTP API."""

    def close(self, sender_id: str) -> bool:
        """True when the Rasa server ran the action (whatever it decided), else False."""
        return self.execute(sender_id, IDLE_ACTION)


class IdleSweeper:
    """Finds idle conversations and closes each one once.

    Args:
        tracker_engine: Engine of Rasa's SQL tracker store.
        closures: Where closures are recorded (the helpdesk database).
        closer: Runs the close in one conversation; returns False on failure (retried later).
        idle_seconds: Idle time before a conversation is closed.
        clock: Current time (tests pass a fake).
        housekeeping: The periodic clean-up run between sweeps (None: none).
    """

    def __init__(
        self,
        tracker_engine: Engine,
        closures: IdleClosureRepository,
        closer: Callable[[str], bool],
        idle_seconds: int,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        housekeeping: Housekeeping | None = None,
    ) -> None:
        if idle_seconds <= 0:
            raise ValueError("idle_seconds must be > 0")
        if timedelta(seconds=idle_seconds) >= LOOKBACK:
            limit = int(LOOKBACK.total_seconds())
            raise ValueError(
                f"HELPDESK_IDLE_SECONDS={idle_seconds} must be below {limit}"
                " (Rasa's own session expiry closes longer silences)"
            )
        self.tracker_engine = tracker_engine
        self.closures = closures
        self.closer = closer
        self.idle = timedelta(seconds=idle_seconds)
        self.clock = clock
        self.housekeeping = housekeeping

    def sweep(self) -> int:
        """One pass; returns how many conversations were closed."""
        closed = 0
        now = self.clock()
        for conversation in find_idle(self.tracker_engine, now, self.idle):
            if self.closures.held_by_agent(conversation.sender_id, ended_since=now - self.idle):
                continue
            if not self.closures.claim(
                conversation.sender_id, conversation.last_user_at, MAX_ATTEMPTS
            ):
                continue
            if self.closer(conversation.sender_id):
                self.closures.mark_closed(conversation.sender_id, conversation.last_user_at)
                metrics.idle_closure("closed")
                closed += 1
            else:
                self.closures.mark_failed(conversation.sender_id, conversation.last_user_at)
                metrics.idle_closure("failed")
        if closed:
            logger.info("closed %d idle conversation(s)", closed)
        return closed

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        """Sweep every `interval` seconds until `stop` is set; errors are logged, not fatal."""
        while not stop.is_set():
            try:
                self.sweep()
            except Exception:  # a locked or missing database must not end the sweeper
                metrics.sweep_done(False)
                logger.exception("idle sweep failed; retrying in %.0f s", interval)
            else:
                metrics.sweep_done(True)
            if self.housekeeping is not None:
                try:
                    self.housekeeping.run_if_due()
                except Exception:
                    logger.exception("housekeeping failed; retried at the next pass")
            stop.wait(interval)


def sweeper_checks(tracker_engine: Engine, services: Any) -> list[Check]:
    """What the sweeper's `/healthz` checks: Rasa's tracker store (where it finds idle
    conversations) and the helpdesk database (where it records closures)."""
    return [
        tracker_store_check(lambda: tracker_engine),
        database_check(lambda: services.session_factory),
    ]


def run_sweeper(
    interval: float = 15.0,
    once: bool = False,
    host: str | None = None,
    port: int | None = None,
) -> int:
    """Build the sweeper from settings and run it (until SIGTERM/SIGINT unless `once`).

    Identifiers (the sender ids are phone numbers on WhatsApp) are masked in its logs.

    Args:
        interval: Seconds between passes.
        once: One pass, then return (no `/healthz`, no `/metrics`).
        host: Where `/healthz` and `/metrics` listen (default `HELPDESK_SWEEPER_HOST`).
        port: Their port (default `HELPDESK_SWEEPER_PORT`; 0: not served).

    Raises:
        OSError: When `/healthz` and `/metrics` cannot listen on `host:port`.
    """

    from helpdesk.ops_server import OpsServer
    from helpdesk.security import logmask
    from helpdesk.services import get_services

    logmask.install()
    services = get_services()
    settings = services.settings
    engine = services.tracker_engine
    sweeper = IdleSweeper(
        engine,
        IdleClosureRepository(services.session_factory),
        RasaClosingClient(settings.rasa_url, settings.rasa_api_token).close,
        settings.idle_seconds,
        housekeeping=Housekeeping(
            services.button_payloads,
            data_retention=services.retention,
            data_requests=services.data_requests,
        ),
    )
    if once:
        print(f"closed {sweeper.sweep()} idle conversation(s)")
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    host = host or settings.sweeper_host
    port = settings.sweeper_port if port is None else port
    ops = None
    if port:
        ops = OpsServer(
            host, port, sweeper_checks(engine, services), metrics_token=settings.metrics_token
        )
        try:
            ops.start()
        except OSError as exc:
            raise OSError(
                f"the sweeper's /healthz and /metrics cannot listen on {host}:{port} "
                f"({exc.strerror or exc}): set HELPDESK_SWEEPER_PORT to a free port"
            ) from exc
    print(
        f"idle sweeper: closing conversations idle for {settings.idle_seconds} s, "
        f"checking every {interval:.0f} s"
        + (f"; {ops.url}/healthz and /metrics" if ops is not None else ""),
        flush=True,
    )
    try:
        sweeper.run_forever(interval, stop)
    finally:
        if ops is not None:
            ops.stop()
    return 0


def add_sweeper_parser(subparsers: Any) -> None:
    """Add `helpdesk sweeper [--once] [--interval 15]` to the `helpdesk` command."""
    parser = subparsers.add_parser(
        "sweeper", help="close idle conversations (started by `make run`)"
    )
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument(
        "--interval", type=float, default=15.0, help="seconds between passes (default 15)"
    )
    parser.add_argument(
        "--host", default=None, help="address of /healthz and /metrics (HELPDESK_SWEEPER_HOST)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port of /healthz and /metrics (HELPDESK_SWEEPER_PORT, default 5070; 0: none)",
    )
    parser.set_defaults(
        func=lambda args: run_sweeper(
            interval=args.interval, once=args.once, host=args.host, port=args.port
        )
    )
