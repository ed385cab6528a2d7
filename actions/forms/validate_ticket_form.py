"""validate_ticket_form: subject, chronology, attachment, e-mail and the confirmation."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from helpdesk.validation import validate_attachment, validate_email

MIN_SUBJECT_LENGTH = 5
MAX_SUBJECT_LENGTH = 255
MIN_CHRONOLOGY_LENGTH = 10

#: Answers that skip the optional attachment.
SKIP_WORDS = frozenset(
    {
        "lewati",
        "lewat",
        "skip",
        "tidak ada",
        "tdk ada",
        "gak ada",
        "ga ada",
        "nggak ada",
        "enggak ada",
        "tidak",
        "tdk",
        "gak",
        "ga",
        "nggak",
        "kosong",
        "tanpa lampiran",
        "tidak ada lampiran",
        "lanjut",
        "-",
    }
)
_SEND_WORDS = frozenset({"kirim", "kirim tiket", "ya", "iya", "ok", "oke", "benar", "sudah benar"})
_EDIT_WORDS = frozenset({"ubah", "ganti", "edit", "perbaiki", "ulang", "isi ulang", "salah"})


def _clean(text: Any) -> str:
    return " ".join(str(text or "").split())


def _words(text: Any) -> str:
    return " ".join(re.sub(r"[^0-9a-z-]+", " ", _clean(text).lower()).split())


class ValidateTicketForm(FormValidationAction):
    """Validate each ticket field, giving the reason when a value is refused."""

    def name(self) -> str:
        return "validate_ticket_form"

    def validate_ticket_subject(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """A short title of at least `MIN_SUBJECT_LENGTH` characters (long ones are cut)."""
        subject = _clean(slot_value)
        if len(subject) < MIN_SUBJECT_LENGTH:
            dispatcher.utter_message(response="utter_invalid_ticket_subject")
            return {slots.TICKET_SUBJECT: None}
        return {slots.TICKET_SUBJECT: subject[:MAX_SUBJECT_LENGTH].rstrip()}

    def validate_ticket_chronology(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """At least one sentence (`MIN_CHRONOLOGY_LENGTH` characters)."""
        chronology = str(slot_value or "").strip()
        if len(_clean(chronology)) < MIN_CHRONOLOGY_LENGTH:
            dispatcher.utter_message(response="utter_invalid_ticket_chronology")
            return {slots.TICKET_CHRONOLOGY: None}
        return {slots.TICKET_CHRONOLOGY: chronology}

    def validate_ticket_attachment(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """A URL or a channel media id; "lewati" / "tidak ada" skips (stored as `-`)."""
        if _words(slot_value) in SKIP_WORDS:
            return {slots.TICKET_ATTACHMENT: slots.NO_ATTACHMENT}
        attachment = validate_attachment(str(slot_value or ""))
        if attachment is None:
            dispatcher.utter_message(response="utter_invalid_ticket_attachment")
            return {slots.TICKET_ATTACHMENT: None}
        return {slots.TICKET_ATTACHMENT: attachment}

    def validate_ticket_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """A syntactically valid e-mail address (normalised)."""
        email = validate_email(str(slot_value or ""))
        if email is None:
            dispatcher.utter_message(
                response="utter_invalid_ticket_email", value=_clean(slot_value)
            )
            return {slots.TICKET_EMAIL: None}
        return {slots.TICKET_EMAIL: email}

    def validate_ticket_confirmation(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """ "kirim" completes the form; "ubah" clears the fields so the form asks them again."""
        answer = _words(slot_value)
        if answer in _SEND_WORDS:
            return {slots.TICKET_CONFIRMATION: slots.CONFIRM_SEND}
        if answer in _EDIT_WORDS:
            dispatcher.utter_message(response="utter_ticket_edit")
            return {name: None for name in slots.FORM_SLOTS[slots.TICKET_FORM]}
        dispatcher.utter_message(response="utter_invalid_ticket_confirmation")
        return {slots.TICKET_CONFIRMATION: None}
