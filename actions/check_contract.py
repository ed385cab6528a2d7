"""action_check_contract: whether a contract is registered at the KPPN, with its register."""

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
from helpdesk.conversation.dates import format_date_id

logger = logging.getLogger(__name__)


class ActionCheckContract(ServicesMixin, Action):
    """Tell registered (register number, date, KPPN), not registered yet, or not found."""

    def name(self) -> str:
        return "action_check_contract"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = finish_service_form(slots.CONTRACT_FORM)
        if tracker.get_slot(slots.FORM_STOPPED):
            return events
        satker = tracker.get_slot(slots.CONTRACT_SATKER_CODE)
        number = tracker.get_slot(slots.CONTRACT_NUMBER)
        if not satker or not number:
            dispatcher.utter_message(response="utter_form_gave_up")
            return events
        contract = f"{satker}/{number}"
        if not await lookup_allowed(self.services, dispatcher, tracker, "contract", contract):
            return events
        try:
            contract = await audited(
                self.services,
                tracker,
                "contract",
                contract,
                self.services.contracts.check,
                satker,
                number,
            )
        except AuditUnavailable:
            dispatcher.utter_message(response=UTTER_TECHNICAL_PROBLEM)
        except NotFound:
            dispatcher.utter_message(
                response="utter_contract_not_found", contract_number=number, satker_code=satker
            )
        except BackendError as error:
            logger.warning("contract lookup failed: %s", type(error).__name__)
            dispatcher.utter_message(
                response="utter_backend_unavailable", service="pendaftaran kontrak"
            )
        else:
            if contract.registered:
                dispatcher.utter_message(
                    response="utter_contract_registered",
                    contract_number=contract.contract_number,
                    satker_code=contract.satker_code,
                    register_number=contract.register_number or "-",
                    registered_at=(
                        format_date_id(contract.registered_at) if contract.registered_at else "-"
                    ),
                    kppn=contract.kppn or "-",
                )
            else:
                dispatcher.utter_message(
                    response="utter_contract_not_registered",
                    contract_number=contract.contract_number,
                    satker_code=contract.satker_code,
                    kppn=contract.kppn or "-",
                )
        return events
