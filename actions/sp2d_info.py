"""action_sp2d_info: the SP2D, the work unit that issued its SPM, amount, date and status."""

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
)
from helpdesk.backends.errors import BackendError, NotFound
from helpdesk.conversation.dates import format_date_id, format_rupiah
from helpdesk.security.masking import mask_digits

logger = logging.getLogger(__name__)


class ActionSp2dInfo(ServicesMixin, Action):
    """Look the SP2D up with the recipient's account number and tell what was found."""

    def name(self) -> str:
        return "action_sp2d_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = finish_service_form(slots.SP2D_FORM)
        if tracker.get_slot(slots.FORM_STOPPED):
            return events
        number = tracker.get_slot(slots.SP2D_NUMBER)
        account = tracker.get_slot(slots.SP2D_ACCOUNT)
        if not number or not account:
            dispatcher.utter_message(response="utter_form_gave_up")
            return events
        if not await lookup_allowed(self.services, dispatcher, tracker, "sp2d", number):
            return events
        try:
            info = await audited(
                self.services, tracker, "sp2d", number, self.services.sp2d.lookup, number, account
            )
        except AuditUnavailable:
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
        except NotFound:
            dispatcher.utter_message(
                response="utter_sp2d_not_found",
                sp2d_number=number,
                account_masked=mask_digits(account),
            )
        except BackendError as error:
            logger.warning("SP2D lookup failed: %s", type(error).__name__)
            dispatcher.utter_message(response="utter_backend_unavailable", service="SP2D")
        else:
            dispatcher.utter_message(
                response="utter_sp2d_info",
                sp2d_number=info.sp2d_number,
                satker_code=info.satker_code,
                satker_name=info.satker_name,
                spm_number=info.spm_number,
                amount=format_rupiah(info.amount),
                date=format_date_id(info.date),
                status=info.status,
            )
        return events
