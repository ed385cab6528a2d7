"""An inbox's claims across processes: renewed while in work, taken over once abandoned.

A claim (`inbound_message`, status "received") belongs to the process handling it. A live
process renews the claims it has in work every `InboxPolicy.heartbeat_every` seconds, however
long a message waits for the sender's earlier ones or for Rasa's lock, so a claim older than
`InboxPolicy.recovery_delay` is one whose process died. Every process looks for such claims at
start and then every `recovery_every` seconds and takes each over atomically (`reclaim`): one
process handles it, a survivor as well as the dead process after its restart, whichever comes
first. Handled ids and their reply records are forgotten after `retention`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from connectors.common import OnNewMessage
from connectors.inbound import Inbound, InboxPolicy

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.storage.inbound_messages import InboundMessageRecord, InboundMessageRepository

__all__ = ["ClaimKeeper", "stored_item"]


def stored_item(record: "InboundMessageRecord", policy: InboxPolicy) -> Inbound | None:
    """The message a claim holds; None when it is older than `max_age` or unreadable (it is
    then dropped unanswered)."""
    if not record.payload:
        return None
    if record.received_at < datetime.now(timezone.utc) - policy.max_age:
        return None
    with contextlib.suppress(ValueError):
        return Inbound.from_json(record.payload)
    return None


class ClaimKeeper:
    """Renews one channel's claims in work in this process and recovers abandoned ones.

    Args:
        channel: The channel name (`channel` in the database).
        repository: Returns the inbound message store.
        policy: Recovery delay, heartbeat and intervals, maximum age, retention.
        in_work: The message ids this process has in work (the inbox's, read only here).
        start: Hands a recovered message to the inbox (in order per sender, marked done).
        log: The channel's logger.
        noun: What the logs call a delivery.
        mask: How the logs show a sender.
    """

    def __init__(
        self,
        channel: str,
        repository: Callable[[], "InboundMessageRepository"],
        policy: InboxPolicy,
        *,
        in_work: set[str],
        start: Callable[..., None],
        log: logging.Logger,
        noun: str,
        mask: Callable[[str], str],
    ) -> None:
        self.channel = channel
        self.policy = policy
        self.noun = noun
        self._repository = repository
        self._in_work = in_work
        self._start = start
        self._log = log
        self._mask = mask

    async def heartbeat(self) -> int:
        """Renew the claims of the messages this process has in work; how many were renewed
        (a failure is logged: the claims may then be taken over after `recovery_delay`)."""
        keys = set(self._in_work)
        if not keys:
            return 0
        try:
            return await asyncio.to_thread(self._repository().touch, self.channel, keys)
        except Exception as exc:
            self._log.warning(
                "%s: could not renew the claims of %d %ss in work (%s)",
                self.channel,
                len(keys),
                self.noun,
                type(exc).__name__,
            )
            return 0

    async def recover(self, on_new_message: OnNewMessage, *, purge: bool = True) -> int:
        """Handle again the messages claimed earlier and never finished (the process died).

        Only claims older than `recovery_delay` are taken (a live process renews its own),
        each taken over atomically (`reclaim`), so of several processes looking at once one
        handles it. Messages older than `max_age`, or stored without a readable payload, are
        marked done without an answer.

        Args:
            on_new_message: Rasa's message handler.
            purge: Also forget handled ids and replies past `retention`.

        Returns:
            How many messages were handed to background tasks.
        """
        repository = self._repository()
        delay = self.policy.recovery_delay
        count = 0
        for _ in range(1000):  # a bound, should the store keep returning the same rows
            records = await asyncio.to_thread(
                repository.pending, delay, channel=self.channel, limit=100
            )
            if not records:
                break
            for record in records:
                if record.message_id in self._in_work:
                    continue
                taken = await asyncio.to_thread(
                    repository.reclaim, self.channel, record.message_id, delay
                )
                if not taken:
                    continue
                item = stored_item(record, self.policy)
                if item is None:
                    self._log.warning(
                        "%s: unfinished %s %s from %s is too old or unreadable; dropped",
                        self.channel,
                        self.noun,
                        record.message_id,
                        self._mask(record.sender),
                    )
                    await asyncio.to_thread(repository.mark_done, self.channel, record.message_id)
                    continue
                self._log.info(
                    "%s: handling unfinished %s %s from %s again",
                    self.channel,
                    self.noun,
                    item.log_id,
                    self._mask(item.sender),
                )
                self._start(item, on_new_message, again=True)
                count += 1
        if purge:
            await self._purge(repository)
        return count

    async def _purge(self, repository: "InboundMessageRepository") -> None:
        retention = self.policy.retention
        purged = await asyncio.to_thread(repository.purge_done, retention)
        await asyncio.to_thread(repository.purge_replies, retention)
        if purged:
            self._log.info(
                "%s: forgot %d handled %s ids older than %d days",
                self.channel,
                purged,
                self.noun,
                retention.days,
            )

    async def run(self, on_new_message: OnNewMessage) -> None:
        """Until cancelled: renew this process's claims every `heartbeat_every` seconds;
        recover what dead processes left at start and every `recovery_every` seconds; purge
        every `purge_interval`."""
        loop = asyncio.get_running_loop()
        policy = self.policy
        next_recovery = next_purge = loop.time()
        while True:
            await self.heartbeat()
            now = loop.time()
            if now >= next_recovery:
                purge = now >= next_purge
                try:
                    await self.recover(on_new_message, purge=purge)
                except Exception as exc:
                    self._log.error(
                        "%s: recovering unfinished %ss failed (%s)",
                        self.channel,
                        self.noun,
                        type(exc).__name__,
                    )
                next_recovery = now + policy.recovery_every
                if purge:
                    next_purge = now + policy.purge_interval
            await asyncio.sleep(min(policy.heartbeat_every, policy.recovery_every))
