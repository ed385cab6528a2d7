"""The status callbacks of broadcast messages (sent, delivered, read, failed), recorded for the
supervisors' per-recipient view (`helpdesk.storage.broadcasts.BroadcastRepository.record_status`).

Only callbacks carrying a broadcast's callback key (`biz_opaque_callback_data` "bc:...", sent
with every broadcast message) are recorded: the callbacks of ordinary replies cost nothing. A
callback that cannot be recorded (the database is down) makes the webhook answer 503, so Meta
delivers it again (the messages of the same delivery are claimed once by the inbox).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from connectors.whatsapp.payloads import StatusUpdate

logger = logging.getLogger("connectors.whatsapp")

#: The prefix of broadcast callback keys (`BroadcastRepository.claim`).
BROADCAST_KEY_PREFIX = "bc:"


def broadcast_updates(updates: Sequence[StatusUpdate]) -> list[StatusUpdate]:
    """The callbacks that belong to broadcast messages."""
    return [u for u in updates if (u.callback_data or "").startswith(BROADCAST_KEY_PREFIX)]


def _record(updates: list[StatusUpdate]) -> int:
    from helpdesk.services import get_services

    repository = get_services().broadcasts.repository
    recorded = 0
    for update in updates:
        if repository.record_status(
            message_id=update.message_id,
            status=update.status,
            callback_key=update.callback_data,
            error=update.error,
            at=update.at,
        ):
            recorded += 1
    return recorded


async def record_statuses(updates: Sequence[StatusUpdate]) -> bool:
    """Record the broadcast callbacks among `updates`; False when the store failed."""
    wanted = broadcast_updates(updates)
    if not wanted:
        return True
    try:
        recorded = await asyncio.get_running_loop().run_in_executor(None, _record, wanted)
    except Exception:
        logger.exception("whatsapp: broadcast status callbacks not recorded")
        return False
    logger.debug("whatsapp: %d of %d broadcast status callbacks recorded", recorded, len(wanted))
    return True
