"""validate_ticket_form: subject, chronology, attachment, e-mail, the confirmation and, after
"Ubah", which field to change."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import (
    UTTER_BUTTON_OUTDATED,
    is_button_payload,
    latest_text,
    text_was_cut,
    whole_text,
)
from helpdesk.conversation.keywords import (
    ALL_FIELDS,
    read_ticket_review,
    ticket_fields_of,
    wants_no_change,
)
from helpdesk.conversation.validation import validate_attachment, validate_email

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


def _clean(text: Any) -> str:
    return " ".join(str(text or "").split())


def _words(text: Any) -> str:
    return " ".join(re.sub(r"[^0-9a-z-]+", " ", _clean(text).lower()).split())


def _edit(fields: tuple[str, ...]) -> dict[str, Any]:
    """Slot updates that change `fields` (keys of `slots.TICKET_FIELD_SLOTS`); with none,
    the form asks which one before showing the summary again."""
    if not fields:
        return {slots.TICKET_CONFIRMATION: slots.CONFIRM_EDIT, slots.TICKET_EDIT_FIELD: None}
    # Only the named fields are asked again; the summary follows with the others kept.
    result: dict[str, Any] = {slots.TICKET_FIELD_SLOTS[field]: None for field in fields}
    every = len(fields) == len(slots.TICKET_FIELD_SLOTS)
    result[slots.TICKET_EDIT_FIELD] = ALL_FIELDS if every else fields[0]
    result[slots.TICKET_CONFIRMATION] = None
    return result


def _outdated_button(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """A button of an earlier step ("/affirm", a rating) pressed where the citizen should
    write text: say so politely (the form asks again) instead of storing the payload."""
    if not is_button_payload(tracker):
        return False
    dispatcher.utter_message(response=UTTER_BUTTON_OUTDATED)
    return True


class ValidateTicketForm(FormValidationAction):
    """Validate each ticket field, giving the reason when a value is refused."""

    def name(self) -> str:
        return "validate_ticket_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        """Which field to change is asked only after "Ubah" that named none."""
        if tracker.get_slot(slots.TICKET_CONFIRMATION) == slots.CONFIRM_EDIT:
            return domain_slots
        return [slot for slot in domain_slots if slot != slots.TICKET_EDIT_FIELD]

    def validate_ticket_subject(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """A short title of at least `MIN_SUBJECT_LENGTH` characters (long ones are cut)."""
        if _outdated_button(dispatcher, tracker):
            return {slots.TICKET_SUBJECT: None}
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
        """At least one sentence (`MIN_CHRONOLOGY_LENGTH` characters), kept whole.

        NLU reads only the beginning of a long message (`components.length_guard`); the
        chronology is the whole text as the citizen sent it (the tracker's user event).
        """
        if _outdated_button(dispatcher, tracker):
            return {slots.TICKET_CHRONOLOGY: None}
        chronology = str(slot_value or "").strip()
        if text_was_cut(tracker):
            chronology = whole_text(tracker).strip() or chronology
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
        """A URL or a channel media id; "lewati" / "tidak ada" skips (stored as `-`). A
        message that carries a file as well as text (an e-mail "berikut lampirannya" with a
        PDF) gives the file's media id (`metadata["media"]["id"]`)."""
        if _words(slot_value) in SKIP_WORDS:
            return {slots.TICKET_ATTACHMENT: slots.NO_ATTACHMENT}
        attachment = validate_attachment(str(slot_value or ""))
        if attachment is None:
            metadata = tracker.latest_message.get("metadata") or {}
            media = metadata.get("media") if isinstance(metadata, dict) else None
            if isinstance(media, dict):
                attachment = validate_attachment(str(media.get("id") or ""))
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
        """ "kirim" completes the form; "ubah email" clears that field so the form asks it
        again, a bare "ubah" asks which field first (`required_slots`)."""
        # The typed text decides ("ya, ganti email" is a change, though NLU may call it
        # affirm); a button payload or a text that says neither falls back to the mapping's
        # "kirim" (affirm) or "ubah" (deny).
        answer = read_ticket_review(latest_text(tracker))
        if not (answer.send or answer.edit):
            answer = read_ticket_review(slot_value)
        if answer.edit:
            return _edit(answer.fields)
        if answer.send:
            return {slots.TICKET_CONFIRMATION: slots.CONFIRM_SEND}
        dispatcher.utter_message(response="utter_invalid_ticket_confirmation")
        return {slots.TICKET_CONFIRMATION: None}

    def validate_ticket_edit_field(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        """The field to change (a button, a keyword, 1-4 or "semua"); "tidak ada" shows the
        summary again unchanged."""
        fields = ticket_fields_of(slot_value)
        if fields:
            return _edit(fields)
        if wants_no_change(slot_value):
            return {slots.TICKET_EDIT_FIELD: None, slots.TICKET_CONFIRMATION: None}
        dispatcher.utter_message(response="utter_invalid_ticket_edit_field")
        return {slots.TICKET_EDIT_FIELD: None}
