"""The helpdesk services' stores the channels share with every process (resolved on first use,
so importing a channel touches no database)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.storage.inbound_messages import InboundMessageRepository


def inbound_repository(injected: "InboundMessageRepository" | None) -> "InboundMessageRepository":
    """The inbound message store: `injected`, else the helpdesk services' one."""
    if injected is not None:
        return injected
    from helpdesk.services import get_services

    return get_services().inbound_messages


class ServicesPayloadStore:
    """The helpdesk database's long button payloads (`PayloadStore`), resolved on first use."""

    def save(self, short_id: str, payload: str) -> bool:
        from helpdesk.services import get_services

        return get_services().button_payloads.save(short_id, payload)

    def get(self, short_id: str) -> str | None:
        from helpdesk.services import get_services

        return get_services().button_payloads.get(short_id)
