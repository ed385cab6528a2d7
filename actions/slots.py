"""Slot, form and response names shared by the actions (they must match domain/)."""

from __future__ import annotations

REQUESTED_SLOT = "requested_slot"
SESSION_STARTED_METADATA = "session_started_metadata"

# Menu
MENU_TARGET = "menu_target"

# FAQ and satisfaction
FAQ_ID = "faq_id"
LAST_QUESTION = "last_question"
AWAITING_FEEDBACK = "awaiting_feedback"
CSAT_RATING = "csat_rating"

# Tickets
TICKET_SUBJECT = "ticket_subject"
TICKET_CHRONOLOGY = "ticket_chronology"
TICKET_ATTACHMENT = "ticket_attachment"
TICKET_EMAIL = "ticket_email"
TICKET_CONFIRMATION = "ticket_confirmation"
TICKET_ID = "ticket_id"

#: Value of `ticket_attachment` when the user skipped it.
NO_ATTACHMENT = "-"
#: Values of `ticket_confirmation`.
CONFIRM_SEND = "kirim"
CONFIRM_EDIT = "ubah"

# Forms
TICKET_FORM = "ticket_form"
TICKET_STATUS_FORM = "ticket_status_form"
CSAT_FORM = "csat_form"

#: The slots each form fills, cleared when the form is cancelled or left for the menu.
FORM_SLOTS: dict[str, tuple[str, ...]] = {
    TICKET_FORM: (
        TICKET_SUBJECT,
        TICKET_CHRONOLOGY,
        TICKET_ATTACHMENT,
        TICKET_EMAIL,
        TICKET_CONFIRMATION,
    ),
    TICKET_STATUS_FORM: (TICKET_ID,),
    CSAT_FORM: (CSAT_RATING,),
}

# Entities
ENTITY_NUMBER = "number"
