"""The message that tells a citizen their ticket's status changed (pure).

When a desk user changes a ticket's status, the desk worker (`helpdesk.handoff.worker`) sends
this message on the channel the ticket came from, through the Rasa server (so it is in the
conversation's history). On WhatsApp outside the 24-hour window the channel sends the approved
template `STATUS_TEMPLATE` instead (`helpdesk.conversation.message_templates`), filled with the
message's `ticket_number` and `status_label`.
"""

from __future__ import annotations

from typing import Any

from helpdesk.conversation.message_templates import TEMPLATE_KEY
from helpdesk.storage.tickets import TicketRecord
from helpdesk.tickets.service import STATUS_LABELS

#: The approved WhatsApp template of a status update (the registries name it so).
STATUS_TEMPLATE = "status_tiket_diperbarui"
#: The metadata key that marks the update in the tracker (found again after a crash).
UPDATE_KEY = "ticket_status_update"
#: The citizen's text (on every channel, and inside WhatsApp's window).
STATUS_TEXT = (
    "Yth. Bapak/Ibu, status tiket {ticket_number} Anda kini: {status_label}.{reply} Untuk "
    'melihat rinciannya kapan saja, ketik "cek status tiket {ticket_number}". Terima kasih.'
)
#: The desk's public reply, when there is one.
REPLY_TEXT = " Tanggapan petugas: {public_reply}"


def update_key(ticket: TicketRecord) -> str:
    """The key of this change of the ticket (its id, status and the time of the change)."""
    return f"{ticket.id}:{ticket.status}:{ticket.updated_at.timestamp():.6f}"


def status_update(ticket: TicketRecord) -> tuple[str, dict[str, Any]]:
    """The text and the metadata of the message telling the citizen about `ticket`'s status."""
    label = STATUS_LABELS.get(ticket.status, ticket.status)
    reply = (ticket.public_reply or "").strip()
    text = STATUS_TEXT.format(
        ticket_number=ticket.id,
        status_label=label,
        reply=REPLY_TEXT.format(public_reply=reply) if reply else "",
    )
    metadata = {
        TEMPLATE_KEY: STATUS_TEMPLATE,
        UPDATE_KEY: update_key(ticket),
        "ticket_number": ticket.id,
        "status_label": label,
    }
    return text, metadata
