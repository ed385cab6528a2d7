"""action_sakti_reset: reset a SAKTI password or MFA; the result goes by SMS."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.base import (
    UTTER_TECHNICAL_PROBLEM,
    AuditUnavailable,
    ServicesMixin,
    audited,
    finish_service_form,
    lookup_allowed,
    requester_phone_of,
)
from helpdesk.backends.errors import BackendError, NotFound, Rejected

logger = logging.getLogger(__name__)

#: Reply to a done reset, by kind.
DONE_RESPONSES = {"password": "utter_sakti_password_reset", "mfa": "utter_sakti_mfa_reset"}


class ActionSaktiReset(ServicesMixin, Action):
    """Ask the backend for the reset, from the registered phone only, and say where the SMS went."""

    def name(self) -> str:
        return "action_sakti_reset"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = finish_service_form(slots.SAKTI_FORM)
        if tracker.get_slot(slots.FORM_STOPPED):
            return events
        kind = tracker.get_slot(slots.SAKTI_KIND)
        nik = tracker.get_slot(slots.SAKTI_NIK)
        satker = tracker.get_slot(slots.SAKTI_SATKER_CODE)
        if kind not in DONE_RESPONSES or not nik or not satker:
            dispatcher.utter_message(response="utter_form_gave_up")
            return events
        phone = requester_phone_of(tracker, self.services.settings)
        if phone is None:
            dispatcher.utter_message(response="utter_sakti_refused")
            return events
        if not await lookup_allowed(self.services, dispatcher, tracker, "nik", nik):
            return events
        try:
            result = await audited(
                self.services,
                tracker,
                "nik",
                nik,
                self.services.sakti.reset,
                kind,
                nik,
                satker,
                phone,
                service=f"sakti_{kind}_reset",
            )
        except AuditUnavailable:
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
        except Rejected as error:
            logger.info("SAKTI reset refused: %s", error.code)
            dispatcher.utter_message(response="utter_sakti_refused")
        except NotFound:
            codes = [o["code"] for o in tracker.get_slot(slots.SAKTI_SATKER_OPTIONS) or []]
            dispatcher.utter_message(
                response="utter_sakti_satker_not_registered",
                satker_code=satker,
                satker_list=", ".join(codes) or "-",
            )
        except BackendError as error:
            logger.warning("SAKTI reset failed: %s", type(error).__name__)
            dispatcher.utter_message(response="utter_backend_unavailable", service="SAKTI")
        else:
            dispatcher.utter_message(
                response=DONE_RESPONSES[kind],
                satker_code=result.satker_code,
                request_id=result.request_id,
                sms_to=result.sms_to,
            )
        return events
