"""action_digit_service: DIGIT account status, e-mail check, activation, reset and unblock."""

from __future__ import annotations

import functools
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
)
from helpdesk.backends.errors import BackendError, NotFound, Rejected
from helpdesk.security.masking import mask_digits, mask_email, shown_masked_email

logger = logging.getLogger(__name__)

#: Reply to each documented refusal of a DIGIT request (docs/backend-api.yaml).
REJECTION_RESPONSES = {
    "email_mismatch": "utter_digit_email_mismatch",
    "already_active": "utter_digit_already_active",
    "not_active": "utter_digit_not_active",
    "not_blocked": "utter_digit_not_blocked",
    "request_in_progress": "utter_digit_request_in_progress",
}
#: Reply to an e-mail check, by whether the e-mail is the registered one.
EMAIL_CHECK_RESPONSES = {True: "utter_digit_email_matches", False: "utter_digit_email_differs"}
#: Reply to each accepted request, by DIGIT action.
SENT_RESPONSES = {
    "activation": "utter_digit_activation_sent",
    "reset": "utter_digit_reset_sent",
    "unblock": "utter_digit_unblock_sent",
}


class ActionDigitService(ServicesMixin, Action):
    """Run the chosen DIGIT service and say what happened and where any link went."""

    def name(self) -> str:
        return "action_digit_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = finish_service_form(slots.DIGIT_FORM)
        if tracker.get_slot(slots.FORM_STOPPED):
            return events
        service = tracker.get_slot(slots.DIGIT_SERVICE)
        id_type = tracker.get_slot(slots.DIGIT_ID_TYPE)
        id_value = tracker.get_slot(slots.DIGIT_ID_VALUE)
        email = tracker.get_slot(slots.DIGIT_EMAIL)
        if not service or not id_type or not id_value or (service != "status" and not email):
            dispatcher.utter_message(response="utter_form_gave_up")
            return events
        if not await lookup_allowed(self.services, dispatcher, tracker, id_type, id_value):
            return events
        who = {"digit_id_label": id_type.upper(), "id_masked": mask_digits(id_value)}
        # An address is never confirmed or shown in full: replies stay in chat histories.
        email_shown = mask_email(email) if email else ""
        digit = self.services.digit
        lookup = functools.partial(
            audited, self.services, tracker, id_type, id_value, service=f"digit_{service}"
        )
        try:
            if service == "status":
                user = await lookup(digit.user_status, id_type, id_value)
                dispatcher.utter_message(
                    response="utter_digit_status",
                    status=user.status,
                    email_masked=shown_masked_email(user.email_masked),
                    **who,
                )
            elif service == "email_check":
                check = await lookup(digit.check_email, id_type, id_value, email)
                dispatcher.utter_message(
                    response=EMAIL_CHECK_RESPONSES[check.matches],
                    email=email_shown,
                    email_masked=shown_masked_email(check.email_masked),
                    **who,
                )
            else:
                result = await lookup(digit.request, service, id_type, id_value, email)
                dispatcher.utter_message(
                    response=SENT_RESPONSES[service],
                    request_id=result.request_id,
                    sent_to=shown_masked_email(result.sent_to),
                )
        except AuditUnavailable:
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
        except NotFound:
            dispatcher.utter_message(response="utter_digit_not_found", **who)
        except Rejected as error:
            logger.info("DIGIT %s refused: %s", service, error.code)
            dispatcher.utter_message(
                response=REJECTION_RESPONSES.get(error.code, "utter_digit_rejected"),
                email=email_shown,
            )
        except BackendError as error:
            logger.warning("DIGIT %s failed: %s", service, type(error).__name__)
            dispatcher.utter_message(response="utter_backend_unavailable", service="DIGIT")
        return events
