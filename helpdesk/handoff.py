"""Requests for a human agent: in office hours they go to the agents, outside them the citizen
gets the offline message and what they wrote is kept as a ticket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from helpdesk.office_hours import OfficeHours
from helpdesk.tickets import TicketDraft, TicketInfo, TicketService
from helpdesk.transcript import Turn, format_transcript

#: Subject of the ticket that keeps a conversation whose handoff came outside office hours.
OFFLINE_SUBJECT = "Permintaan bicara dengan petugas di luar jam layanan"


@dataclass(frozen=True)
class OfflineReply:
    """What the citizen is told outside office hours."""

    ticket: TicketInfo
    hours: str
    next_opening: str


class HandoffService:
    """Decides where a request for a human goes and records offline requests as tickets."""

    def __init__(self, office_hours: OfficeHours, tickets: TicketService) -> None:
        self.office_hours = office_hours
        self.tickets = tickets

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
    ) -> OfflineReply:
        """Keep the conversation so far as a ticket and say when the agents are back."""
        chronology = format_transcript(turns, self.office_hours.tz)
        ticket = self.tickets.create(
            TicketDraft(
                subject=OFFLINE_SUBJECT,
                chronology=chronology,
                email=email,
                sender_id=sender_id,
                channel=channel,
            )
        )
        return OfflineReply(
            ticket=ticket,
            hours=self.office_hours.describe(),
            next_opening=self.office_hours.format_next_opening(now),
        )
