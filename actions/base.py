"""Shared helpers of the actions: the injected `Services`, leaving a form, long messages,
the self-service lookups' rate limit and audit record."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.services import Services
    from helpdesk.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Response sent when a service fails (database down, index missing, ...).
UTTER_TECHNICAL_PROBLEM = "utter_technical_problem"
#: Response to a button of an earlier step pressed in a step that cannot take it.
UTTER_BUTTON_OUTDATED = "utter_button_outdated"
#: Response said when NLU read only the beginning of a long message.
UTTER_MESSAGE_TRUNCATED = "utter_message_truncated"
#: The parse-data flag of a message NLU read only the beginning of: `TRUNCATED_KEY` of
#: `components.length_guard` (the action server does not import the Rasa-side components).
TEXT_TRUNCATED_KEY = "text_truncated"


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

    def faq_category(self, tracker: Tracker) -> str | None:
        """The FAQ category of the last answer tried: it routes a handoff or a ticket to the
        division that serves it."""
        faq_id = tracker.get_slot(slots.FAQ_ID)
        if not faq_id:
            return None
        try:
            entries = self.services.retriever.index.entries
            return next((e.category or None for e in entries if e.id == faq_id), None)
        except Exception:
            logger.exception("could not read the category of FAQ %s", faq_id)
            return None


def leave_active_loop(tracker: Tracker) -> list[EventType]:
    """Events that deactivate the active form (if any) and clear its slots."""
    form = tracker.active_loop_name
    if not form:
        return []
    events: list[EventType] = [ActiveLoop(None), SlotSet(slots.REQUESTED_SLOT, None)]
    events.extend(SlotSet(name, None) for name in slots.FORM_SLOTS.get(form, ()))
    return events


def form_started_at(tracker: Tracker, form: str) -> float | None:
    """The timestamp of the event that activated the current run of `form`, if any (the same
    each time the tracker is read: the key of one run, `form_submission_key`)."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "active_loop" and event.get("name") == form:
            timestamp = event.get("timestamp")
            if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
                return float(timestamp)
            return None
    return None


def is_button_payload(tracker: Tracker) -> bool:
    """Whether the latest user message is a button payload ("/intent{...}"), not typed text."""
    text = (tracker.latest_message or {}).get("text") or ""
    return text.strip().startswith("/")


def latest_text(tracker: Tracker) -> str:
    """The text of the latest user message; "" for button payloads ("/intent{...}")."""
    text = (tracker.latest_message or {}).get("text") or ""
    text = text.strip()
    return "" if text.startswith("/") else text


def latest_intent(tracker: Tracker) -> str:
    """The intent NLU gave the latest user message ("" when none)."""
    return str(((tracker.latest_message or {}).get("intent") or {}).get("name") or "")


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
    """The verified phone number of the citizen
    (see `helpdesk.conversation.identifiers.requester_phone`)."""
    from helpdesk.conversation.identifiers import requester_phone

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


def text_was_cut(tracker: Tracker) -> bool:
    """Whether NLU read only the beginning of the latest user message (it was too long)."""
    return bool((tracker.latest_message or {}).get(TEXT_TRUNCATED_KEY))


def whole_text(tracker: Tracker) -> str:
    """The latest user message as the citizen sent it (up to the channel's limit).

    `latest_message["text"]` is the text NLU read, cut for a long message
    (`components.length_guard`); the tracker's `user` event keeps the whole text.
    """
    for event in reversed(tracker.events or []):
        if isinstance(event, dict) and event.get("event") == "user":
            text = event.get("text")
            return text if isinstance(text, str) else ""
    return str((tracker.latest_message or {}).get("text") or "")


def note_cut_message(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Say politely, once per action run, that only the beginning of a long message was read.

    The one place the note is decided: actions that answer from the message's text call this
    before they answer.
    """
    if not text_was_cut(tracker):
        return
    if any(m.get("response") == UTTER_MESSAGE_TRUNCATED for m in dispatcher.messages):
        return
    dispatcher.utter_message(response=UTTER_MESSAGE_TRUNCATED)


#: Response when a self-service lookup ran too often (per sender or per identifier).
UTTER_LOOKUP_LIMITED = "utter_lookup_limited"


async def lookup_allowed(
    services: "Services",
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    kind: str,
    value: str,
) -> bool:
    """Count one self-service lookup of `value` (a NIK, an SP2D number...) by this sender.

    Over the hourly limit (`helpdesk.security.ratelimit.LookupLimits`, per sender and per
    identifier) the citizen is told when to try again. The limiter's store failing refuses the
    lookup with the technical-problem reply: an oracle must not open up while its guard is down.

    Returns:
        True when the lookup may run.
    """
    try:
        decision = await asyncio.to_thread(
            services.lookup_limits.allow, tracker.sender_id, kind, value
        )
    except Exception:
        logger.exception("the self-service lookup limits could not be checked")
        dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
        return False
    if decision.allowed:
        return True
    with contextlib.suppress(AuditUnavailable):  # refused all the same; the failure is logged
        await _audit_lookup(services, tracker, kind, value, "limited")
    dispatcher.utter_message(response=UTTER_LOOKUP_LIMITED, minutes=decision.retry_after_minutes)
    return False


class AuditUnavailable(Exception):
    """The audit trail could not record a lookup: its answer is withheld (the action says
    there is a technical problem), since no one may look up citizens' data unrecorded."""


async def _audit_lookup(
    services: "Services",
    tracker: Tracker,
    kind: str,
    identifier: str,
    result: str,
    service: str | None = None,
) -> None:
    try:
        await asyncio.to_thread(
            functools.partial(
                services.audit.lookup,
                tracker.get_latest_input_channel(),
                tracker.sender_id,
                kind,
                identifier,
                result,
                service=service,
            )
        )
    except Exception as exc:
        logger.exception("the audit trail could not record a %s lookup", kind)
        raise AuditUnavailable(kind) from exc


async def audited(
    services: "Services",
    tracker: Tracker,
    kind: str,
    identifier: str,
    call: Callable[..., T],
    *args: Any,
    service: str | None = None,
) -> T:
    """Run a self-service lookup (`call(*args)`, in a thread) and record it in the audit
    trail: who (channel, masked sender), which identifier (masked) and the result class
    (`helpdesk.security.audit.lookup_result`), as "lookup.<service>" (default: `kind`).

    Returns:
        What `call` returned.

    Raises:
        AuditUnavailable: When the record could not be written (checked first by callers).
        Exception: What `call` raised, once it is recorded.
    """
    from helpdesk.security.audit import lookup_result

    try:
        value = await asyncio.to_thread(call, *args)
    except Exception as error:
        await _audit_lookup(services, tracker, kind, identifier, lookup_result(error), service)
        raise
    await _audit_lookup(services, tracker, kind, identifier, lookup_result(None), service)
    return value
