"""Shared helpers of the actions: the injected `Services` and leaving a form."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet

from actions import slots

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.services import Services
    from helpdesk.settings import Settings

logger = logging.getLogger(__name__)

#: Response sent when a service fails (database down, index missing, ...).
UTTER_TECHNICAL_PROBLEM = "utter_technical_problem"
#: Response to a button of an earlier step pressed in a step that cannot take it.
UTTER_BUTTON_OUTDATED = "utter_button_outdated"


class ServicesMixin:
    """Gives an action its `Services`: the injected one, else the process-wide one.

    Args:
        services: Services to use (tests inject their own); looked up lazily when None.
    """

    def __init__(self, services: "Services" | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._services = services

    @property
    def services(self) -> "Services":
        """The helpdesk services (built on first use, never at import time)."""
        if self._services is None:
            from helpdesk.services import get_services

            return get_services()
        return self._services


def leave_active_loop(tracker: Tracker) -> list[EventType]:
    """Events that deactivate the active form (if any) and clear its slots."""
    form = tracker.active_loop_name
    if not form:
        return []
    events: list[EventType] = [ActiveLoop(None), SlotSet(slots.REQUESTED_SLOT, None)]
    events.extend(SlotSet(name, None) for name in slots.FORM_SLOTS.get(form, ()))
    return events


def is_button_payload(tracker: Tracker) -> bool:
    """Whether the latest user message is a button payload ("/intent{...}"), not typed text."""
    text = (tracker.latest_message or {}).get("text") or ""
    return text.strip().startswith("/")


def latest_text(tracker: Tracker) -> str:
    """The text of the latest user message; "" for button payloads ("/intent{...}")."""
    text = (tracker.latest_message or {}).get("text") or ""
    text = text.strip()
    return "" if text.startswith("/") else text


def channel_of(tracker: Tracker) -> str | None:
    """The channel of the conversation: the one Rasa recorded for the latest message, else the
    session metadata's (a client can choose its metadata, so Rasa's record comes first)."""
    channel = tracker.get_latest_input_channel()
    if channel:
        return channel
    metadata = tracker.get_slot(slots.SESSION_STARTED_METADATA)
    if isinstance(metadata, dict) and isinstance(metadata.get("channel"), str):
        return metadata["channel"]
    return None


def requester_phone_of(tracker: Tracker, settings: "Settings") -> str | None:
    """The verified phone number of the citizen (see `helpdesk.identifiers.requester_phone`)."""
    from helpdesk.identifiers import requester_phone

    # The channel Rasa recorded for the message, never the session metadata: a web chat client
    # chooses its own metadata (and its session id, which becomes the sender id).
    return requester_phone(
        tracker.get_latest_input_channel(), tracker.sender_id, settings.sakti_trusted_channels
    )


def finish_service_form(form: str) -> list[EventType]:
    """Events that clear a finished (or stopped) self-service form's slots and counters."""
    state = (slots.FORM_FAILURES, slots.FORM_STOPPED)
    events: list[EventType] = [
        SlotSet(name, None) for name in slots.FORM_SLOTS[form] if name not in state
    ]
    events.extend([SlotSet(slots.FORM_FAILURES, 0.0), SlotSet(slots.FORM_STOPPED, False)])
    return events
