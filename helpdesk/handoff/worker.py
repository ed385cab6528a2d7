"""The agent desk's background worker: the link between the queue and the Rasa server.

Every `interval` seconds (and at once when woken by the desk after an agent acted) one pass:

1. takes out of the queue the waiting citizens who wrote "batal" that the bot did not answer
   itself (the bot answers the cancel intent at once, `action_leave_queue`; this step is the
   fallback for a leave text the NLU read otherwise, a conversation queued before that, or an
   action server that was down);
2. assigns waiting handoffs round-robin to online agents with room;
3. expires handoffs nobody took within the timeout;
4. delivers the agents' pending replies (the outbox) through the Rasa server, which sends them
   on the channel the citizen asked for an officer on (the handoff's) and logs them in the
   tracker; a file attached to a reply travels as a reference in the bot message's metadata
   (`helpdesk.handoff.agent_files.ATTACHMENT_KEY`), which the channel reads from the file
   store; a reply whose file was erased before it went out is marked failed;
5. resumes the bot in conversations whose handoff ended (`action_handoff_end`: thanks and the
   rating, the "left the queue" message, or the ticket id of an expired request);
6. tells citizens that a desk user changed their ticket's status, on the channel the ticket
   came from (`helpdesk.tickets.status_updates`; on WhatsApp after 24 hours of silence the
   channel sends the approved template instead).

Nothing is lost or sent twice across restarts: replies and endings are rows in the helpdesk
database first; before re-sending a reply or re-running the ending, the worker looks in the
tracker store for the one it may have sent just before a crash. While the Rasa server is down,
deliveries and resumes are retried with backoff (2 s doubling to 15 s) - a reply for up to an
hour, a resume for a day - and go out in order once it is back. Run one worker per deployment
(`helpdesk desk serve` starts it; `--no-worker` on the other desk processes).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable, Protocol

from helpdesk.handoff.agent_files import ATTACHMENT_KEY, attachment_metadata, file_exists
from helpdesk.handoff.reply_window import AGENT_REPLY_WINDOWS, agent_reply_allowed
from helpdesk.handoff.service import is_leave_request
from helpdesk.handoff.transcript import turns_from_events
from helpdesk.jobs.loop import LeaderLoop
from helpdesk.rasa_bridge.events import TrackerEvent, latest_session, read_events
from helpdesk.retry import Backoff
from helpdesk.security.masking import mask_digits
from helpdesk.storage.enums import HandoffStatus, OutboxStatus
from helpdesk.tickets.status_updates import UPDATE_KEY, status_update, update_key

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Engine

    from helpdesk.services import Services
    from helpdesk.storage.handoffs import HandoffRecord
    from helpdesk.storage.leader import Leadership

logger = logging.getLogger(__name__)

#: The action that resumes the bot after a handoff ended.
END_ACTION = "action_handoff_end"
#: Retries after a failed delivery or resume wait this long, doubling up to `RETRY_MAX`.
RETRY_BASE = timedelta(seconds=2)
RETRY_MAX = timedelta(seconds=15)
_RETRY_BACKOFF = Backoff(RETRY_BASE.total_seconds(), maximum=RETRY_MAX.total_seconds())
#: A reply still undelivered this long after the agent wrote it is marked failed (the desk
#: shows it): the Rasa server was down all that time.
REPLY_GIVE_UP = timedelta(hours=1)
#: An ended handoff whose conversation could not be resumed for this long is left; the
#: citizen's next message after Rasa's session expiry starts afresh anyway.
RESUME_GIVE_UP = timedelta(hours=24)
#: A status update still undelivered this long after the change is given up (logged).
STATUS_UPDATE_GIVE_UP = timedelta(hours=24)
#: Channels that cannot push a message to the citizen (they only answer requests).
NO_PUSH_CHANNELS = frozenset({"rest", "cmdline"})


def retry_delay(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failures (2 s, 4 s, 8 s, then 15 s).

    Fewer than one failure counts as one.
    """
    return timedelta(seconds=_RETRY_BACKOFF.delay(max(1, attempts)))


class RasaApi(Protocol):
    """What the worker needs of the Rasa HTTP API (`helpdesk.rasa_bridge.client.RasaClient`)."""

    def execute(self, sender_id: str, action: str, channel: str | None = None) -> bool: ...

    def send_bot_message(
        self, sender_id: str, text: str, metadata: dict, channel: str | None = None
    ) -> bool: ...


@dataclass
class PassReport:
    """What one pass did (for logs and tests)."""

    cancelled: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    assigned: list[tuple[int, int]] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    status_updates: list[str] = field(default_factory=list)
    #: Agents' replies marked failed: the channel's window had closed.
    outside_window: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(
            (
                self.cancelled,
                self.expired,
                self.assigned,
                self.delivered,
                self.resumed,
                self.status_updates,
                self.outside_window,
            )
        )


def wants_to_leave(event: TrackerEvent) -> bool:
    """True for a citizen message meaning "take me out of the queue" (see
    `helpdesk.handoff.service.LEAVE_INTENTS` and `LEAVE_TEXTS`)."""
    return event.type_name == "user" and is_leave_request(event.intent, event.text)


class DeskWorker(LeaderLoop):
    """One pass at a time over the queue, the outbox and the endings.

    Args:
        services: The helpdesk services (database, handoff service).
        rasa: The Rasa HTTP API client.
        tracker_engine: Engine of Rasa's SQL tracker store.
        interval: Seconds between passes when nobody wakes the worker.
        clock: The current aware time (tests pass a fake).
        leadership: When several desk processes run, only the one holding it makes passes
            (`helpdesk.storage.leader`); None: this one always does.
    """

    def __init__(
        self,
        services: "Services",
        rasa: RasaApi,
        tracker_engine: "Engine",
        *,
        interval: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        leadership: "Leadership | None" = None,
    ) -> None:
        super().__init__(interval=interval, leadership=leadership, label="desk worker", log=logger)
        self.services = services
        self.rasa = rasa
        self.tracker_engine = tracker_engine
        self.clock = clock
        self._pass_lock = threading.Lock()
        # Backoff of failed deliveries, resumes and status updates: ("reply" | "resume", id)
        # or ("status", ticket update key) -> next try.
        self._next_try: dict[tuple[str, int | str], datetime] = {}
        # Failed attempts of the status updates (ticket update key -> count).
        self._failures: dict[str, int] = {}

    def run_once(self) -> PassReport:
        """One pass; each step goes on when another fails."""
        report = PassReport()
        with self._pass_lock:
            for step in (
                self._cancel_leavers,
                self._assign,  # before expiring: an agent with room takes it in time
                self._expire_overdue,
                self._deliver_replies,
                self._resume_ended,
                self._notify_status_changes,
            ):
                try:
                    step(report)
                except Exception:
                    logger.exception("desk worker step %s failed", step.__name__)
        return report

    # --- steps ---------------------------------------------------------------------------

    def _citizen_events(self, handoff: "HandoffRecord") -> list[TrackerEvent]:
        """What the conversation logged after the handoff request (never what came before:
        a "batal" that left an earlier form must not take the citizen out of the queue)."""
        since = handoff.since_ts
        if since is None:
            since = handoff.created_at.timestamp()
        events = read_events(self.tracker_engine, handoff.sender_id, since_ts=since)
        return [e for e in events if e.timestamp > since]

    def _cancel_leavers(self, report: PassReport) -> None:
        service = self.services.handoff
        for handoff in service.handoffs.waiting():
            leaving = any(wants_to_leave(e) for e in self._citizen_events(handoff))
            if leaving and service.cancel(handoff.id):
                report.cancelled.append(handoff.id)

    def _expire_overdue(self, report: PassReport) -> None:
        service = self.services.handoff
        for handoff in service.overdue(self.clock()):
            if service.expire(handoff.id):
                report.expired.append(handoff.id)

    def _assign(self, report: PassReport) -> None:
        report.assigned.extend(self.services.handoff.auto_assign())

    def _deliver_replies(self, report: PassReport) -> None:
        messages = self.services.handoff_messages
        handoffs = self.services.handoffs
        names = _agent_names(self.services)
        now = self.clock()
        held: set[int] = set()  # conversations whose earlier reply is still undelivered
        for message in messages.pending():
            if message.handoff_id in held:
                continue  # keep the agent's order: the earlier reply goes first
            if self._next_try.get(("reply", message.id), now) > now:
                held.add(message.handoff_id)
                continue
            handoff = handoffs.get(message.handoff_id)
            if handoff is None:
                continue
            if self._already_in_tracker(handoff.sender_id, "handoff_message_id", message.id):
                messages.mark_sent(message.id)
                report.delivered.append(message.id)
                continue
            if not self._reply_window_open(handoff, now):
                # The platform would refuse it and the channel drop it: the desk shows it
                # failed (and the conversation page why) rather than sent.
                messages.note_failure(message.id, give_up=True)
                report.outside_window.append(message.id)
                logger.warning(
                    "reply %s not sent: %s no longer allows an agent's reply to %s",
                    message.id,
                    handoff.channel,
                    mask_digits(handoff.sender_id),
                )
                continue
            metadata: dict = {
                "handoff_message_id": message.id,
                "handoff_id": handoff.id,
                "agent": names.get(message.agent_id or 0, "Petugas"),
            }
            if message.attachment_key:
                if not file_exists(self.services.attachment_files, message.attachment_key):
                    # Erased (the citizen's request) or purged before it went out.
                    messages.note_failure(message.id, give_up=True)
                    logger.error("reply %s not sent: its file is no longer stored", message.id)
                    continue
                metadata[ATTACHMENT_KEY] = attachment_metadata(
                    message.attachment_key, message.attachment_name or "lampiran"
                )
            # The channel of the request, not the latest one: a message on another channel
            # under the same id must not divert the agent's reply.
            if self.rasa.send_bot_message(
                handoff.sender_id, message.text, metadata, channel=handoff.channel
            ):
                messages.mark_sent(message.id)
                self._next_try.pop(("reply", message.id), None)
                report.delivered.append(message.id)
                continue
            give_up = now - message.created_at >= REPLY_GIVE_UP
            failed = messages.note_failure(message.id, give_up=give_up)
            if failed is None or failed.status == OutboxStatus.PENDING:
                held.add(message.handoff_id)
                attempts = failed.attempts if failed is not None else 1
                self._next_try[("reply", message.id)] = now + retry_delay(attempts)
            elif failed.status == OutboxStatus.FAILED:
                self._next_try.pop(("reply", message.id), None)
                logger.error(
                    "reply %s to %s given up after %d attempts in %s",
                    message.id,
                    mask_digits(handoff.sender_id),
                    failed.attempts,
                    REPLY_GIVE_UP,
                )

    def _reply_window_open(self, handoff: "HandoffRecord", now: datetime) -> bool:
        """Whether the handoff's channel still lets an agent's reply reach the citizen (when
        their last message cannot be read, the channel decides)."""
        if handoff.channel not in AGENT_REPLY_WINDOWS:
            return True
        try:
            last = self.services.inbound_messages.last_received(
                str(handoff.channel), handoff.sender_id
            )
        except Exception:
            logger.warning("the citizen's last message time could not be read; sending")
            return True
        return agent_reply_allowed(handoff.channel, last, now)

    def _resume_ended(self, report: PassReport) -> None:
        service = self.services.handoff
        handoffs = self.services.handoffs
        pending_replies = {m.handoff_id for m in self.services.handoff_messages.pending()}
        now = self.clock()
        for handoff in handoffs.pending_resume(now - RESUME_GIVE_UP):
            if handoff.id in pending_replies:
                continue  # the agent's last replies go first
            if self._next_try.get(("resume", handoff.id), now) > now:
                continue
            try:
                if handoff.status == HandoffStatus.EXPIRED and not handoff.ticket_id:
                    events = latest_session(read_events(self.tracker_engine, handoff.sender_id))
                    turns = turns_from_events([e.as_rasa_dict() for e in events])
                    service.ticket_for_expired(handoff, turns)
                resumed = self._ended_in_tracker(handoff) or self.rasa.execute(
                    handoff.sender_id, END_ACTION, channel=handoff.channel
                )
            except Exception:  # one conversation's failure must not hold up the others
                logger.exception("resuming the bot after handoff %s failed", handoff.id)
                resumed = False
            if resumed:
                handoffs.mark_resumed(handoff.id)
                self._next_try.pop(("resume", handoff.id), None)
                report.resumed.append(handoff.id)
            else:
                handoffs.note_resume_failure(handoff.id)
                attempts = handoff.resume_attempts + 1
                self._next_try[("resume", handoff.id)] = now + retry_delay(attempts)

    def _notify_status_changes(self, report: PassReport) -> None:
        tickets = self.services.ticket_repository
        now = self.clock()
        for ticket in tickets.status_updates_due():
            assert ticket.sender_id is not None and ticket.channel is not None
            key = update_key(ticket)
            if self._next_try.get(("status", key), now) > now:
                continue
            if ticket.channel in NO_PUSH_CHANNELS:
                tickets.mark_status_notified(ticket.id, ticket.status)
                continue
            if self._already_in_tracker(ticket.sender_id, UPDATE_KEY, key):
                tickets.mark_status_notified(ticket.id, ticket.status)
                report.status_updates.append(ticket.id)
                continue
            text, metadata = status_update(ticket)
            if self.rasa.send_bot_message(ticket.sender_id, text, metadata, channel=ticket.channel):
                tickets.mark_status_notified(ticket.id, ticket.status)
                self._next_try.pop(("status", key), None)
                report.status_updates.append(ticket.id)
                self._failures.pop(key, None)
            elif now - ticket.updated_at >= STATUS_UPDATE_GIVE_UP:
                tickets.mark_status_notified(ticket.id, ticket.status)
                self._next_try.pop(("status", key), None)
                self._failures.pop(key, None)
                logger.error(
                    "status update of ticket %s to %s given up after %s",
                    ticket.id,
                    mask_digits(ticket.sender_id),
                    STATUS_UPDATE_GIVE_UP,
                )
            else:
                attempts = self._failures.get(key, 0) + 1
                self._failures[key] = attempts
                self._next_try[("status", key)] = now + retry_delay(attempts)

    # --- de-duplication after a crash ----------------------------------------------------

    def _already_in_tracker(self, sender_id: str, key: str, value: int | str) -> bool:
        for event in read_events(self.tracker_engine, sender_id, types=("bot",)):
            if event.metadata.get(key) == value:
                return True
        return False

    def _ended_in_tracker(self, handoff: "HandoffRecord") -> bool:
        """True when `action_handoff_end` already ran after this handoff ended."""
        if handoff.ended_at is None:
            return False
        since = handoff.ended_at.timestamp()
        for event in read_events(
            self.tracker_engine, handoff.sender_id, since_ts=since, types=("action",)
        ):
            if event.data.get("name") == END_ACTION:
                return True
        return False


def _agent_names(services: "Services") -> dict[int, str]:
    from sqlalchemy import select

    from helpdesk.storage.db import session_scope
    from helpdesk.storage.models import DeskUser

    with session_scope(services.session_factory) as session:
        return {
            int(user_id): str(name)
            for user_id, name in session.execute(select(DeskUser.id, DeskUser.display_name))
        }


def build_worker(services: "Services", *, interval: float = 2.0) -> DeskWorker:
    """The worker on the configured Rasa server and tracker store."""
    from sqlalchemy import create_engine

    from helpdesk.rasa_bridge.client import RasaClient
    from helpdesk.storage.leader import leadership_for

    settings = services.settings
    return DeskWorker(
        services,
        RasaClient(settings.rasa_url, settings.rasa_api_token),
        create_engine(settings.effective_tracker_store_url),
        interval=interval,
        leadership=leadership_for(settings.effective_database_url, "desk-worker", settings.var_dir),
    )
