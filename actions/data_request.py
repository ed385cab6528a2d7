"""action_start_data_request and action_data_request: a citizen's request for a copy of their
data or for its deletion (UU PDP), verified by the channel identity or an e-mailed code
(`validate_data_request_form`), recorded and answered by `helpdesk.privacy.requests`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import UTTER_TECHNICAL_PROBLEM, ServicesMixin, latest_intent
from helpdesk.conversation.dates import format_datetime_id

logger = logging.getLogger(__name__)

#: The request each intent starts.
KINDS = {"data_access": "access", "data_erasure": "erasure"}
#: Channels whose sender id the platform proves (no e-mail code asked there).
IDENTITY_CHANNELS = ("whatsapp", "telegram")


def identity_channel(tracker: Tracker, trusted: tuple[str, ...]) -> str | None:
    """The channel proving who writes (WhatsApp, Telegram, a trusted REST gateway), else None.

    The channel Rasa recorded for the message, never the session metadata a web chat client
    chooses itself."""
    channel = (tracker.get_latest_input_channel() or "").lower()
    return channel if channel and channel in (*IDENTITY_CHANNELS, *trusted) else None


def _clear() -> list[EventType]:
    names = slots.FORM_SLOTS[slots.DATA_REQUEST_FORM]
    return [SlotSet(name, None) for name in names if name != slots.FORM_STOPPED] + [
        SlotSet(slots.FORM_STOPPED, False),
        SlotSet(slots.FORM_FAILURES, 0.0),
    ]


class ActionStartDataRequest(Action):
    """Note which request the citizen asked for; the form then verifies and confirms."""

    def name(self) -> str:
        return "action_start_data_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        kind = KINDS.get(latest_intent(tracker), "access")
        return [*_clear(), SlotSet(slots.DATA_REQUEST_KIND, kind)]


class ActionDataRequest(ServicesMixin, Action):
    """Record the verified request and answer it: a copy's summary, or when it will be done."""

    def name(self) -> str:
        return "action_data_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = _clear()
        if tracker.get_slot(slots.FORM_STOPPED):
            return events
        if tracker.get_slot(slots.DATA_REQUEST_CONFIRM) != "ya":
            dispatcher.utter_message(response="utter_data_request_cancelled")
            return events
        kind = tracker.get_slot(slots.DATA_REQUEST_KIND) or "access"
        settings = self.services.settings
        channel = identity_channel(tracker, settings.sakti_trusted_channels)
        email = tracker.get_slot(slots.DATA_REQUEST_VERIFIED_EMAIL)
        if channel is None and not email:  # the form asks the code off identity channels
            dispatcher.utter_message(response="utter_data_request_email_unavailable")
            return events
        requests = self.services.data_requests
        try:
            opened = await asyncio.to_thread(
                requests.open,
                kind,
                tracker.sender_id,
                tracker.get_latest_input_channel(),
                verified_by=channel or "email",
                email=email,
            )
            request = opened.request
            due = format_datetime_id(request.due_at, settings.tz)
            if not opened.created:
                dispatcher.utter_message(
                    response="utter_data_request_exists", reference=request.reference, due=due
                )
            elif request.status == "pending":
                dispatcher.utter_message(
                    response="utter_data_request_pending", reference=request.reference, due=due
                )
            elif kind == "erasure":
                dispatcher.utter_message(
                    response="utter_data_request_erasure_scheduled",
                    reference=request.reference,
                    due=due,
                )
            else:
                copy = await asyncio.to_thread(requests.answer_access, request)
                if copy is None:  # answered meanwhile by the sweeper
                    copy = await asyncio.to_thread(requests.copy, tracker.sender_id, email)
                mailed = bool(email) and requests.send_mail is not None
                dispatcher.utter_message(
                    response="utter_data_request_copy",
                    summary=requests.summary(copy),
                    reference=request.reference,
                    copy_note=(
                        "telah kami kirim ke e-mail Anda."
                        if mailed
                        else "dapat Anda minta kepada petugas kami dengan menyebut nomor ini."
                    ),
                )
        except Exception:
            logger.exception("a data request could not be recorded or answered")
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
        return events
