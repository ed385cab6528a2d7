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
#: What the rating is about: "faq" (default, an FAQ answer) or "agent" (a human agent).
CSAT_KIND = "csat_kind"
#: The handoff an agent rating is about (its id, as text).
HANDOFF_ID = "handoff_id"

# Tickets
TICKET_SUBJECT = "ticket_subject"
TICKET_CHRONOLOGY = "ticket_chronology"
TICKET_ATTACHMENT = "ticket_attachment"
TICKET_EMAIL = "ticket_email"
TICKET_CONFIRMATION = "ticket_confirmation"
#: After "Ubah": the field being changed (keys of
#: `helpdesk.conversation.keywords.TICKET_FIELD_KEYWORDS`, or
#: `helpdesk.conversation.keywords.ALL_FIELDS`); None while the form asks which one.
TICKET_EDIT_FIELD = "ticket_edit_field"
TICKET_ID = "ticket_id"

# Handoff: where the last request for a human went ("queue", "offline").
HANDOFF_ROUTE = "handoff_route"
#: True while the conversation is paused in the agents' queue and no agent has taken it yet:
#: "batal" is then answered by the bot at once (components/queue_leave.py, action_leave_queue).
HANDOFF_WAITING = "handoff_waiting"

#: Value of `ticket_attachment` when the user skipped it.
NO_ATTACHMENT = "-"
#: Values of `ticket_confirmation`.
CONFIRM_SEND = "kirim"
CONFIRM_EDIT = "ubah"
#: The slot of each ticket field a citizen can change at the summary.
TICKET_FIELD_SLOTS: dict[str, str] = {
    "subject": TICKET_SUBJECT,
    "chronology": TICKET_CHRONOLOGY,
    "attachment": TICKET_ATTACHMENT,
    "email": TICKET_EMAIL,
}

# Self-service forms (shared)
FORM_FAILURES = "form_failures"
FORM_STOPPED = "form_stopped"

# SP2D
SP2D_NUMBER = "sp2d_number"
SP2D_ACCOUNT = "sp2d_account"

# Contract registration
CONTRACT_SATKER_CODE = "contract_satker_code"
CONTRACT_NUMBER = "contract_number"

# DIGIT
DIGIT_SERVICE = "digit_service"
DIGIT_ID_TYPE = "digit_id_type"
DIGIT_ID_VALUE = "digit_id_value"
DIGIT_EMAIL = "digit_email"

# SAKTI
SAKTI_KIND = "sakti_kind"
SAKTI_NIK = "sakti_nik"
SAKTI_SATKER_CODE = "sakti_satker_code"
SAKTI_SATKER_OPTIONS = "sakti_satker_options"

# Guided flows (helpdesk/conversation/flows.py)
FLOW_STATE = "flow_state"
FLOW_REPLY = "flow_reply"
#: The name the citizen gave in a flow (when the channel gave none).
CITIZEN_NAME = "citizen_name"
#: The prefix of `flow_reply` once the flow ended: "end:<kind>:<target>".
FLOW_ENDED = "end:"
ENTITY_OPTION = "option"

# Forms
TICKET_FORM = "ticket_form"
FLOW_FORM = "flow_form"
TICKET_STATUS_FORM = "ticket_status_form"
CSAT_FORM = "csat_form"
SP2D_FORM = "sp2d_form"
CONTRACT_FORM = "contract_form"
DIGIT_FORM = "digit_form"
SAKTI_FORM = "sakti_form"
DATA_REQUEST_FORM = "data_request_form"

# Citizens' data requests (domain/privacy.yml)
DATA_REQUEST_KIND = "data_request_kind"
DATA_REQUEST_EMAIL = "data_request_email"
DATA_REQUEST_CODE = "data_request_code"
DATA_REQUEST_VERIFIED_EMAIL = "data_request_verified_email"
DATA_REQUEST_CONFIRM = "data_request_confirm"

_SERVICE_FORM_STATE = (FORM_FAILURES, FORM_STOPPED)

#: The slots each form fills, cleared when the form is cancelled or left for the menu.
FORM_SLOTS: dict[str, tuple[str, ...]] = {
    TICKET_FORM: (
        TICKET_SUBJECT,
        TICKET_CHRONOLOGY,
        TICKET_ATTACHMENT,
        TICKET_EMAIL,
        TICKET_EDIT_FIELD,
        TICKET_CONFIRMATION,
    ),
    TICKET_STATUS_FORM: (TICKET_ID,),
    CSAT_FORM: (CSAT_RATING, CSAT_KIND, HANDOFF_ID),
    SP2D_FORM: (SP2D_NUMBER, SP2D_ACCOUNT, *_SERVICE_FORM_STATE),
    CONTRACT_FORM: (CONTRACT_SATKER_CODE, CONTRACT_NUMBER, *_SERVICE_FORM_STATE),
    DIGIT_FORM: (DIGIT_SERVICE, DIGIT_ID_TYPE, DIGIT_ID_VALUE, DIGIT_EMAIL, *_SERVICE_FORM_STATE),
    FLOW_FORM: (FLOW_STATE, FLOW_REPLY),
    DATA_REQUEST_FORM: (
        DATA_REQUEST_KIND,
        DATA_REQUEST_EMAIL,
        DATA_REQUEST_CODE,
        DATA_REQUEST_VERIFIED_EMAIL,
        DATA_REQUEST_CONFIRM,
        *_SERVICE_FORM_STATE,
    ),
    SAKTI_FORM: (
        SAKTI_KIND,
        SAKTI_NIK,
        SAKTI_SATKER_CODE,
        SAKTI_SATKER_OPTIONS,
        *_SERVICE_FORM_STATE,
    ),
}

# Entities
ENTITY_NUMBER = "number"
