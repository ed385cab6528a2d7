"""Requests for a human agent: in office hours they join the agents' queue, outside them the
citizen gets the offline message and what they wrote is kept as a ticket.

The queue: a request opens a `handoff` (waiting); online agents get waiting handoffs
round-robin up to their own limit (or take one, or a supervisor assigns one); the agent's
replies go to an outbox; the handoff ends resolved (by the agent), cancelled (the citizen wrote
"batal" while waiting) or expired (nobody took it in time: it becomes a ticket with the
transcript). Everything here is plain Python on the repositories; the agent desk and its
worker call it, and so does `action_handoff`.
"""

from __future__ import annotations

import enum
import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

from helpdesk import metrics
from helpdesk.handoff.office_hours import OfficeHours
from helpdesk.handoff.transcript import Turn, format_transcript
from helpdesk.storage.enums import HandoffStatus
from helpdesk.storage.enums import OutboxStatus as OutboxStatus  # re-exported for the desk
from helpdesk.storage.handoff_messages import HandoffMessageRecord
from helpdesk.storage.handoffs import AgentLoad, HandoffRecord
from helpdesk.tickets.service import TicketDraft, TicketInfo, TicketService

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.handoff.agent_files import StoredAgentFile
    from helpdesk.storage.handoff_messages import HandoffMessageRepository
    from helpdesk.storage.handoffs import HandoffRepository

#: Subject of the ticket that keeps a conversation whose handoff came outside office hours.
OFFLINE_SUBJECT = "Permintaan bicara dengan petugas di luar jam layanan"
#: Subject of the ticket made from a handoff nobody took in time.
EXPIRED_SUBJECT = "Permintaan bicara dengan petugas yang belum terlayani"
#: Assumed minutes until an agent takes a conversation while there is no history to go by.
DEFAULT_PICKUP_MINUTES = 3.0
#: Intents and texts with which a waiting citizen leaves the queue ("batal"). The Rasa server
#: answers the intents at once (`components.queue_leave`, `action_leave_queue`); the desk
#: worker also reads the texts, as a fallback for messages the bot did not answer.
LEAVE_INTENTS = frozenset({"cancel"})
LEAVE_TEXTS = frozenset({"batal", "/cancel", "batalkan", "keluar antrean", "keluar antrian"})


def is_leave_request(intent: str | None, text: str | None) -> bool:
    """True for a citizen message meaning "take me out of the queue"."""
    if intent in LEAVE_INTENTS:
        return True
    return " ".join((text or "").lower().split()) in LEAVE_TEXTS


class HandoffError(Exception):
    """An agent-desk operation that is not allowed (the message says why, in Indonesian)."""


@dataclass(frozen=True)
class QueuePlace:
    """Where a conversation stands in the queue, for the citizen."""

    handoff: "HandoffRecord"
    position: int  # 1-based among waiting handoffs; 0 once assigned
    wait_minutes: int  # estimate, at least 1 while waiting
    agents_online: int
    created: bool  # False when the conversation was already queued


class LeaveOutcome(enum.Enum):
    """What a citizen's "batal" did to their handoff (`HandoffService.leave_queue`)."""

    #: It was waiting: cancelled now, and marked resumed (the bot answers in this turn).
    LEFT = "left"
    #: An agent holds the conversation: "batal" is a message for the agent.
    WITH_AGENT = "with_agent"
    #: It ended meanwhile (resolved, expired, cancelled by the worker) and the desk worker
    #: has yet to resume the bot and tell the citizen how it ended.
    ENDING = "ending"
    #: No handoff to leave (none, or its ending was already told).
    NONE = "none"


@dataclass(frozen=True)
class OfflineReply:
    """What the citizen is told outside office hours."""

    ticket: TicketInfo
    hours: str
    next_opening: str


class HandoffService:
    """Decides where a request for a human goes and records offline requests as tickets."""

    def __init__(
        self,
        office_hours: OfficeHours,
        tickets: TicketService,
        handoffs: "HandoffRepository | None" = None,
        messages: "HandoffMessageRepository | None" = None,
        *,
        timeout_minutes: float = 15.0,
        division_for_category: Callable[[str], int | None] | None = None,
    ) -> None:
        if timeout_minutes <= 0:
            raise ValueError("timeout_minutes must be > 0")
        self.office_hours = office_hours
        self.tickets = tickets
        self._handoffs = handoffs
        self._messages = messages
        self.timeout = timedelta(minutes=timeout_minutes)
        self._division_for_category = division_for_category

    @property
    def handoffs(self) -> "HandoffRepository":
        if self._handoffs is None:
            raise RuntimeError("HandoffService was built without a handoff repository")
        return self._handoffs

    @property
    def messages(self) -> "HandoffMessageRepository":
        if self._messages is None:
            raise RuntimeError("HandoffService was built without a message repository")
        return self._messages

    def is_open(self, now: datetime) -> bool:
        """True in office hours (an aware `now`)."""
        return self.office_hours.is_open(now)

    def record_offline(
        self,
        now: datetime,
        turns: list[Turn],
        sender_id: str,
        channel: str | None,
        email: str | None = None,
        category: str | None = None,
    ) -> OfflineReply:
        """Keep the conversation so far as a ticket (for the division serving `category`,
        the FAQ category last asked about) and say when the agents are back."""
        chronology = format_transcript(turns, self.office_hours.tz)
        ticket = self.tickets.create(
            TicketDraft(
                subject=OFFLINE_SUBJECT,
                chronology=chronology,
                email=email,
                sender_id=sender_id,
                channel=channel,
                category=category,
            )
        )
        metrics.handoff_requested("offline")
        return OfflineReply(
            ticket=ticket,
            hours=self.office_hours.describe(),
            next_opening=self.office_hours.format_next_opening(now),
        )

    # --- the queue -----------------------------------------------------------------------

    def request(
        self,
        sender_id: str,
        *,
        channel: str | None = None,
        name: str | None = None,
        question: str | None = None,
        category: str | None = None,
        since_ts: float | None = None,
        request_key: str | None = None,
    ) -> QueuePlace:
        """Queue the conversation for an agent (once: a second request gives the same place;
        the same request message, `request_key`, always gives its own handoff)."""
        division_id = None
        if category and self._division_for_category is not None:
            division_id = self._division_for_category(category)
        handoff, created = self.handoffs.open(
            sender_id,
            channel=channel,
            name=name,
            question=question,
            category=category,
            division_id=division_id,
            since_ts=since_ts,
            request_key=request_key,
        )
        if created:
            metrics.handoff_requested("queued")
        return self._place(handoff, created)

    def place(self, handoff: "HandoffRecord") -> QueuePlace:
        """The handoff's current queue place."""
        return self._place(handoff, False)

    def _place(self, handoff: "HandoffRecord", created: bool) -> QueuePlace:
        position = (
            self.handoffs.position(handoff.id) if handoff.status == HandoffStatus.WAITING else 0
        )
        agents = self.handoffs.online_agents()
        return QueuePlace(
            handoff=handoff,
            position=position,
            wait_minutes=self.estimate_wait_minutes(position, len(agents)) if position else 0,
            agents_online=len(agents),
            created=created,
        )

    def estimate_wait_minutes(self, position: int, agents_online: int) -> int:
        """Minutes until an agent takes the conversation at `position`, rounded up.

        The median time to assignment of the latest handoffs (or `DEFAULT_PICKUP_MINUTES`)
        per place in the queue, shared among the online agents; never above the timeout.
        """
        samples = self.handoffs.recent_pickup_seconds()
        per_place = statistics.median(samples) / 60 if samples else DEFAULT_PICKUP_MINUTES
        per_place = max(per_place, 0.5)
        minutes = per_place * position / max(1, agents_online)
        limit = self.timeout.total_seconds() / 60
        return max(1, math.ceil(min(minutes, limit)))

    def open_for(self, sender_id: str) -> "HandoffRecord | None":
        return self.handoffs.open_for(sender_id)

    # --- agents --------------------------------------------------------------------------

    def take(self, handoff_id: int, agent_id: int, max_conversations: int) -> "HandoffRecord":
        """An agent takes a waiting conversation, within their own limit.

        Raises:
            HandoffError: When it is no longer waiting or the agent is at their limit.
        """
        if self.handoffs.open_count(agent_id) >= max_conversations:
            raise HandoffError(
                f"Anda sudah menangani {max_conversations} percakapan. "
                "Selesaikan salah satu sebelum mengambil yang baru."
            )
        if not self.handoffs.assign(handoff_id, agent_id, from_waiting_only=True):
            raise HandoffError("Percakapan ini sudah diambil petugas lain atau sudah berakhir.")
        handoff = self._get(handoff_id)
        _observe_wait(handoff, handoff.assigned_at)
        return handoff

    def assign(self, handoff_id: int, agent_id: int) -> "HandoffRecord":
        """A supervisor assigns (or reassigns) an open conversation to an agent."""
        before = self.handoffs.get(handoff_id)
        if not self.handoffs.assign(handoff_id, agent_id, from_waiting_only=False):
            raise HandoffError("Percakapan ini sudah berakhir.")
        handoff = self._get(handoff_id)
        if before is not None and before.status == HandoffStatus.WAITING:
            _observe_wait(handoff, handoff.assigned_at)  # taken from the queue, not reassigned
        return handoff

    def auto_assign(self) -> list[tuple[int, int]]:
        """Give waiting conversations to online agents with room, round-robin.

        In queue order, each waiting handoff goes to the agent with room who was assigned
        least recently (never-assigned agents first), preferring agents of the handoff's
        division when one of them has room.

        Returns:
            (handoff id, agent id) pairs assigned by this call.
        """
        agents = {a.agent_id: a for a in self.handoffs.online_agents()}
        assigned: list[tuple[int, int]] = []
        for handoff in self.handoffs.waiting():
            candidates = [a for a in agents.values() if a.has_room]
            if not candidates:
                break
            if handoff.division_id is not None:
                same = [a for a in candidates if a.division_id == handoff.division_id]
                candidates = same or candidates
            agent = min(candidates, key=_round_robin_key)
            if self.handoffs.assign(handoff.id, agent.agent_id, from_waiting_only=True):
                _observe_wait(handoff, datetime.now(timezone.utc))
                assigned.append((handoff.id, agent.agent_id))
                agents[agent.agent_id] = _after_assignment(agent)
        return assigned

    def reply(
        self,
        handoff_id: int,
        agent_id: int,
        text: str,
        *,
        attachment: "StoredAgentFile | None" = None,
    ) -> "HandoffMessageRecord":
        """Queue an agent's reply for delivery (the outbox); records the first response.

        Args:
            attachment: A file the agent attached, already checked and stored
                (`helpdesk.handoff.agent_files.store_agent_file`); the text may be empty then.
        """
        text = text.strip()
        if not text and attachment is None:
            raise HandoffError("Balasan tidak boleh kosong.")
        handoff = self._get(handoff_id)
        if handoff.status != HandoffStatus.ASSIGNED:
            raise HandoffError("Percakapan ini tidak sedang ditangani petugas.")
        if handoff.agent_id != agent_id:
            raise HandoffError("Percakapan ini ditangani petugas lain.")
        message = self.messages.add(
            handoff_id,
            agent_id,
            text,
            attachment_key=attachment.reference if attachment else None,
            attachment_name=attachment.filename if attachment else None,
        )
        self.handoffs.mark_first_response(handoff_id)
        return message

    def resolve(self, handoff_id: int) -> bool:
        """End an assigned conversation as resolved (the bot then asks for a rating)."""
        ended = self.handoffs.end(
            handoff_id, HandoffStatus.RESOLVED, only_from=(HandoffStatus.ASSIGNED,)
        )
        if ended:
            metrics.handoff_ended("resolved")
        return ended

    def cancel(self, handoff_id: int) -> bool:
        """The citizen left the queue ("batal") while waiting; the desk worker resumes the bot."""
        ended = self.handoffs.end(
            handoff_id, HandoffStatus.CANCELLED, only_from=(HandoffStatus.WAITING,)
        )
        if ended:
            metrics.handoff_ended("cancelled")
        return ended

    def leave_queue(self, sender_id: str) -> LeaveOutcome:
        """The citizen wrote "batal" in a paused conversation: leave the queue if still waiting.

        A waiting handoff is cancelled and marked resumed in one update: the bot resumes the
        conversation and says so in the same turn, and the desk worker, which resumes only
        handoffs not marked resumed, never says it a second time. A handoff an agent took
        meanwhile stays with the agent.
        """
        handoff = self.handoffs.latest_for(sender_id)
        if handoff is None:
            return LeaveOutcome.NONE
        if handoff.status == HandoffStatus.WAITING:
            if self.handoffs.end(
                handoff.id,
                HandoffStatus.CANCELLED,
                only_from=(HandoffStatus.WAITING,),
                bot_resumed=True,
            ):
                metrics.handoff_ended("cancelled")
                return LeaveOutcome.LEFT
            handoff = self._get(handoff.id)  # taken or ended an instant ago
        if handoff.is_open:
            return LeaveOutcome.WITH_AGENT
        if handoff.bot_resumed_at is None:
            return LeaveOutcome.ENDING
        return LeaveOutcome.NONE

    # --- timeouts ------------------------------------------------------------------------

    def overdue(self, now: datetime) -> "list[HandoffRecord]":
        """Waiting handoffs nobody took within the timeout."""
        return [h for h in self.handoffs.waiting() if now - h.created_at >= self.timeout]

    def expire(self, handoff_id: int) -> bool:
        """End a waiting handoff as expired (its ticket is made by `ticket_for_expired`).

        Returns:
            True when this call expired it; False when it stopped waiting meanwhile.
        """
        ended = self.handoffs.end(
            handoff_id, HandoffStatus.EXPIRED, only_from=(HandoffStatus.WAITING,)
        )
        if ended:
            metrics.handoff_ended("expired")
        return ended

    def ticket_for_expired(self, handoff: "HandoffRecord", turns: list[Turn]) -> str:
        """The ticket id of an expired handoff, made from the transcript on first call."""
        # The stored row, not the caller's copy: a record read before the ticket was made
        # (the worker's list of ended handoffs) must not make a second ticket.
        handoff = self._get(handoff.id)
        if handoff.status != HandoffStatus.EXPIRED:
            raise HandoffError("Hanya permintaan yang kedaluwarsa yang dijadikan tiket.")
        if handoff.ticket_id:
            return handoff.ticket_id
        ticket = self.tickets.create(
            TicketDraft(
                subject=EXPIRED_SUBJECT,
                chronology=format_transcript(turns, self.office_hours.tz),
                email=None,
                sender_id=handoff.sender_id,
                channel=handoff.channel,
                category=handoff.category,
                division_id=handoff.division_id,
            )
        )
        self.handoffs.set_ticket(handoff.id, ticket.id)
        # Another process may have linked its ticket first: the linked one is the answer.
        return self._get(handoff.id).ticket_id or ticket.id

    def _get(self, handoff_id: int) -> "HandoffRecord":
        handoff = self.handoffs.get(handoff_id)
        if handoff is None:
            raise HandoffError("Percakapan tidak ditemukan.")
        return handoff


def _observe_wait(handoff: "HandoffRecord", taken_at: datetime | None) -> None:
    """Record how long `handoff` waited in the queue until an agent took it at `taken_at`."""
    if taken_at is not None:
        metrics.handoff_taken((taken_at - handoff.created_at).total_seconds())


def _round_robin_key(agent: "AgentLoad") -> tuple:
    never = agent.last_assigned_at is None
    return (not never, agent.last_assigned_at or datetime.min, agent.open_count, agent.agent_id)


def _after_assignment(agent: "AgentLoad") -> "AgentLoad":
    from dataclasses import replace

    from helpdesk.storage.models import utcnow

    return replace(agent, open_count=agent.open_count + 1, last_assigned_at=utcnow())
