"""The inbox every platform channel shares: one delivery policy, whatever the platform.

Platforms (WhatsApp Cloud API, Telegram Bot API) deliver at least once and retry whatever is
not answered 200 in time. The inbox makes that safe and keeps the platform waiting for nothing:

1. **Claim once** in the helpdesk database (`inbound_message`, with the message) before the
   webhook answers; a re-delivery is only acknowledged, also after a restart, in any process.
2. **Answer at once**: 200 once the claims are recorded; 503 only when the database could not
   record them. Content the database refuses (`DataError`, `UnicodeError`) is acknowledged and
   dropped: a retry would fail the same way for days.
3. **Handle in order per sender**, in background tasks: in this process a FIFO lock per
   sender; across processes (several Rasa servers behind a load balancer) a message waits
   until the sender's messages claimed before it, in any process, are done. An earlier one
   whose claim is older than `InboxPolicy.recovery_delay` (its process died) is taken over
   and handled first, here, so a crash never puts a conversation's messages out of order.
   The wait ends after `InboxPolicy.order_timeout` whatever happens; Rasa's lock store then
   keeps one conversation's messages one at a time.
4. **Mark done** once Rasa has handled it (a failure is logged, never the content). Each
   reply is recorded as it goes out (`connectors.common.replies.TurnOutput`), so a message
   handled again after a crash does not send the citizen what they already got.
5. **Keep claims alive, recover what a crash left**: every process renews the claims of the
   messages it has in work (every `InboxPolicy.heartbeat_every` seconds), so a claim older
   than `InboxPolicy.recovery_delay` is one whose process died, never one waiting its turn
   in a live process. At start and then every `recovery_every` seconds, each process takes
   such claims over atomically and handles them again (a re-delivery, or a later message of
   the same sender, takes them over too): a survivor does not wait for the dead process's
   restart. Those older than `max_age` are dropped, handled ids are forgotten after
   `retention`.

A channel supplies its name, output channel and logger, and turns deliveries into `Inbound`
items; its webhook keeps authentication, body limits and parsing. `InboxChannel` is the input
channel base that wires an inbox in: it makes the inbox, answers Rasa's `get_output_channel`,
and starts and stops the inbox with the server. REST and the web chat need no inbox: their
callers wait on the same connection and nothing is re-delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from datetime import datetime, timezone
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Coroutine,
    Sequence,
)

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint

from connectors.claims import ClaimKeeper, stored_item
from connectors.common import (
    KeyedLocks,
    OnNewMessage,
    failure_trace,
    inbound_repository,
    mask_id,
    recorded_by,
)
from connectors.common.replies import AgentRepliesOnce, TurnOutput, replies_sent
from connectors.inbound import Accepted, Inbound, InboxPolicy
from helpdesk import metrics

__all__ = ["Accepted", "Inbound", "Inbox", "InboxChannel", "InboxPolicy", "Recorded"]

#: Whether Rasa saved a user message (sender id, message id) in its conversation.
Recorded = Callable[[str, str], Awaitable[bool]]

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.storage.inbound_messages import InboundMessageRecord, InboundMessageRepository


#: The policy of an inbox made without one.
DEFAULT_POLICY = InboxPolicy()


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Inbox:
    """Claims, hands over in order, marks done and recovers one channel's deliveries."""

    def __init__(
        self,
        channel: str,
        output: OutputChannel,
        *,
        log: logging.Logger,
        repository: "InboundMessageRepository" | None = None,
        policy: InboxPolicy = DEFAULT_POLICY,
        noun: str = "message",
        mask: Callable[[str], str] = mask_id,
    ) -> None:
        """Create the inbox of one channel.

        Args:
            channel: The channel name (`input_channel` of the messages, `channel` in the
                database).
            output: The output channel Rasa answers through.
            log: The channel's logger; records start with "<channel>: ".
            repository: Where deliveries are claimed (default: the helpdesk services' one).
            policy: Recovery, retention and shutdown settings.
            noun: What the logs call a delivery ("message", "update").
            mask: How the logs show a sender.
        """
        self.channel = channel
        self.output = output
        self.policy = policy
        self.noun = noun
        self._log = log
        self._mask = mask
        self._repository = repository
        self._tasks: set[asyncio.Task] = set()
        self._in_work: set[str] = set()
        self._locks = KeyedLocks()
        self._recovery_task: asyncio.Task | None = None
        self._claims = ClaimKeeper(
            channel,
            lambda: self.repository,
            policy,
            in_work=self._in_work,
            start=self._start,
            log=log,
            noun=noun,
            mask=mask,
        )
        self._recorded: Recorded | None = None

    @property
    def repository(self) -> "InboundMessageRepository":
        """The inbound message store (the helpdesk services' one unless injected)."""
        return inbound_repository(self._repository)

    @property
    def in_work(self) -> int:
        """How many background tasks are running."""
        return len(self._tasks)

    # ----------------------------------------------------------------- background work

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run `coro` in a background task that `drain` waits for."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until the background tasks are done.

        Args:
            timeout: Seconds to wait at most (None: no limit).

        Returns:
            True when nothing is left in work.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    # ----------------------------------------------------------------- delivery

    async def accept(self, items: Sequence[Inbound], on_new_message: OnNewMessage) -> Accepted:
        """Claim each item once and hand the new ones to Rasa in the background.

        An item claimed before is a re-delivery: it is taken over (and handled) only when its
        claim is older than `recovery_delay` and not in work in this process (the process that
        claimed it died), else only acknowledged.

        Returns:
            What was claimed, what was a duplicate, and the database error that stopped the
            claiming; `Accepted.answer()` is the reply for the platform.
        """
        if not items:
            return Accepted()
        in_work = set(self._in_work)

        retaken: set[str] = set()

        def work() -> Accepted:
            claimed: list[Inbound] = []
            duplicates: list[Inbound] = []
            try:
                repository = self.repository
                for item in items:
                    if repository.claim(self.channel, item.key, item.sender, item.to_json()):
                        claimed.append(item)
                    elif item.key not in in_work and repository.reclaim(
                        self.channel, item.key, self.policy.recovery_delay
                    ):
                        self._log.info(
                            "%s: unfinished %s %s is handled again",
                            self.channel,
                            self.noun,
                            item.log_id,
                        )
                        claimed.append(item)
                        retaken.add(item.key)
                    else:
                        self._log.info(
                            "%s: %s %s delivered again; it is not answered twice",
                            self.channel,
                            self.noun,
                            item.log_id,
                        )
                        duplicates.append(item)
            except Exception as exc:  # the database: never log the statement (it has content)
                return Accepted(tuple(claimed), tuple(duplicates), exc)
            return Accepted(tuple(claimed), tuple(duplicates))

        accepted = await asyncio.to_thread(work)
        for item in accepted.claimed:
            self._start(item, on_new_message, again=item.key in retaken)
        if accepted.dropped:
            self._log.error(
                "%s: the database refused delivered %ss (%s); dropped",
                self.channel,
                self.noun,
                type(accepted.error).__name__,
            )
        elif accepted.error is not None:
            self._log.error(
                "%s: could not record delivered %ss (%s); the platform retries",
                self.channel,
                self.noun,
                type(accepted.error).__name__,
            )
        return accepted

    def _start(self, item: Inbound, on_new_message: OnNewMessage, *, again: bool) -> None:
        self._in_work.add(item.key)
        task = self.spawn(self._handle(item, on_new_message, again=again))
        task.add_done_callback(lambda _: self._in_work.discard(item.key))

    async def _wait_for_earlier(self, item: Inbound, on_new_message: OnNewMessage) -> None:
        """Wait until the sender's messages claimed before `item` in other processes are done;
        take over and handle first those whose process died (claimed over `recovery_delay`
        ago). At most `order_timeout` seconds; a failing lookup does not hold the message up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.policy.order_timeout
        delay = self.policy.recovery_delay
        repository = self.repository
        while True:
            try:
                found = await asyncio.to_thread(
                    repository.earlier_unfinished, self.channel, item.key
                )
                # One this process has in work waits for this sender's lock, which this
                # message holds (a message recovered after it arrived): it cannot go first.
                earlier = [r for r in found if r.message_id not in self._in_work]
                for record in earlier:
                    if record.received_at >= _utcnow() - delay:
                        break  # in work in another process: wait for it (and those after it)
                    if not await asyncio.to_thread(
                        repository.reclaim, self.channel, record.message_id, delay
                    ):
                        break  # another process took it over just now: wait for it
                    await self._take_over_first(record, item, on_new_message)
            except Exception as exc:
                self._log.warning(
                    "%s: could not check the order of %s %s (%s); handled now",
                    self.channel,
                    self.noun,
                    item.log_id,
                    type(exc).__name__,
                )
                return
            if not earlier:
                return
            if loop.time() >= deadline:
                self._log.warning(
                    "%s: %s %s from %s waited %.0f s for %d earlier ones; handled now",
                    self.channel,
                    self.noun,
                    item.log_id,
                    self._mask(item.sender),
                    self.policy.order_timeout,
                    len(earlier),
                )
                return
            await asyncio.sleep(self.policy.order_poll)

    async def _take_over_first(
        self, record: "InboundMessageRecord", item: Inbound, on_new_message: OnNewMessage
    ) -> None:
        """Handle an earlier message left by a dead process before `item` (it is ours now)."""
        earlier = stored_item(record, self.policy)
        if earlier is None:
            await asyncio.to_thread(self.repository.mark_done, self.channel, record.message_id)
            return
        self._log.info(
            "%s: unfinished %s %s from %s is handled again, before %s",
            self.channel,
            self.noun,
            earlier.log_id,
            self._mask(earlier.sender),
            item.log_id,
        )
        self._in_work.add(earlier.key)
        try:
            await self._deliver(earlier, on_new_message, again=True)
        finally:
            self._in_work.discard(earlier.key)

    async def _handle(self, item: Inbound, on_new_message: OnNewMessage, *, again: bool) -> None:
        """Hand one message to Rasa (in order per sender), then mark it done."""
        async with self._locks.hold(item.sender):
            await self._wait_for_earlier(item, on_new_message)
            await self._deliver(item, on_new_message, again=again)

    async def _deliver(self, item: Inbound, on_new_message: OnNewMessage, *, again: bool) -> None:
        """Hand one message to Rasa, then mark it done (in the sender's turn).

        `again`: the message was claimed before (a crash cut its handling short); the replies
        that went out then are not sent again.
        """
        repository = self.repository
        sent: frozenset[int] = frozenset()
        if again:
            if await self._saved_before(item):
                await asyncio.to_thread(repository.mark_done, self.channel, item.key)
                return
            sent = await replies_sent(repository, self.channel, item.key, self._log)
        metrics.message_in(self.channel)
        output = TurnOutput(
            self.output, self.channel, item.key, repository=repository, sent=sent, log=self._log
        )
        user_message = UserMessage(
            item.text,
            output,  # type: ignore[arg-type]  # an OutputChannel in all Rasa uses
            item.sender,
            input_channel=self.channel,
            message_id=item.key,
            metadata=copy.deepcopy(item.metadata),
        )
        try:
            await on_new_message(user_message)
        except Exception as exc:
            self._log.error(
                "%s: handling %s %s from %s failed: %s",
                self.channel,
                self.noun,
                item.log_id,
                self._mask(item.sender),
                failure_trace(exc),
            )
        try:
            await asyncio.to_thread(repository.mark_done, self.channel, item.key)
        except Exception as exc:
            self._log.error(
                "%s: could not mark %s %s as done (%s)",
                self.channel,
                self.noun,
                item.log_id,
                type(exc).__name__,
            )

    async def _saved_before(self, item: Inbound) -> bool:
        """Whether Rasa saved `item`'s turn before the crash (it is not handled again)."""
        if self._recorded is None:
            return False
        try:
            saved = await self._recorded(item.sender, item.key)
        except Exception as exc:
            self._log.warning(
                "%s: could not check whether %s %s was handled (%s); handled again",
                self.channel,
                self.noun,
                item.log_id,
                type(exc).__name__,
            )
            return False
        if saved:
            self._log.info(
                "%s: %s %s was handled before the crash; not handled again",
                self.channel,
                self.noun,
                item.log_id,
            )
        return saved

    # ----------------------------------------------------------------- recovery

    async def recover(self, on_new_message: OnNewMessage, *, purge: bool = True) -> int:
        """Handle again the messages dead processes claimed and never finished
        (`ClaimKeeper.recover`); how many were handed to background tasks."""
        return await self._claims.recover(on_new_message, purge=purge)

    async def heartbeat(self) -> int:
        """Renew the claims of the messages in work here (`ClaimKeeper.heartbeat`)."""
        return await self._claims.heartbeat()

    # ----------------------------------------------------------------- server lifecycle

    def start(self, on_new_message: OnNewMessage, recorded: Recorded | None = None) -> None:
        """Start the heartbeat and recovery in the background (the server's
        `after_server_start`).

        Args:
            on_new_message: Rasa's message handler.
            recorded: Whether Rasa saved a message in its conversation already
                (`connectors.common.recorded_by(app)`): a message handled again after a crash
                that Rasa saved is only marked done (a crash between saving and marking).
        """
        self._recorded = recorded
        self._recovery_task = asyncio.get_running_loop().create_task(
            self._claims.run(on_new_message)
        )

    async def stop(self) -> bool:
        """Stop the heartbeat and recovery and wait for the messages in work (the server's
        `before_server_stop`).

        Returns:
            True when nothing was left in work; else the rest is handled again at the next start.
        """
        task, self._recovery_task = self._recovery_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if await self.drain(self.policy.shutdown_timeout):
            return True
        self._log.warning(
            "%s: %d %ss still in work at shutdown; they are handled again at the next start",
            self.channel,
            len(self._tasks),
            self.noun,
        )
        return False


class InboxChannel(InputChannel):
    """An input channel whose deliveries go through an `Inbox`.

    A subclass builds its output channel, then calls `open_inbox` in its constructor, and adds
    the server listeners with `add_inbox_listeners` in its `blueprint`. It has no `__init__`
    of its own, so it may stand before another `InputChannel` base (Rasa's `TelegramInput`).
    """

    #: The output channel Rasa answers through (each channel narrows the type).
    output: Any
    #: The channel's inbox (`open_inbox`).
    inbox: Inbox

    def open_inbox(
        self,
        output: OutputChannel,
        *,
        log: logging.Logger,
        repository: "InboundMessageRepository" | None = None,
        policy: InboxPolicy = DEFAULT_POLICY,
        noun: str = "message",
        mask: Callable[[str], str] = mask_id,
    ) -> Inbox:
        """Set the channel's output channel and make its inbox, named after the channel
        (`name()`); the other arguments are those of `Inbox`.

        An injected `repository` keeps the output channel's reply ledger too (when it has
        one): the replies are recorded beside the claims.
        """
        if repository is not None and isinstance(output, AgentRepliesOnce):
            output.reply_ledger = repository
        self.output = output
        self.inbox = Inbox(
            self.name(), output, log=log, repository=repository, policy=policy, noun=noun, mask=mask
        )
        return self.inbox

    @property
    def repository(self) -> "InboundMessageRepository":
        """The inbound message store (the helpdesk services' one unless injected)."""
        return self.inbox.repository

    def get_output_channel(self) -> OutputChannel | None:
        """The channel's output channel; contacts nobody (safe inside a running loop)."""
        return self.output

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until the messages in work are handled (True: nothing is left in work)."""
        return await self.inbox.drain(timeout)

    async def recover_pending(self, on_new_message: OnNewMessage) -> int:
        """Handle again the messages claimed earlier and never finished (`Inbox.recover`)."""
        return await self.inbox.recover(on_new_message)

    async def close(self) -> None:
        """Release what the channel holds once its inbox has stopped (default: the output
        channel's HTTP session)."""
        await self.output.close()

    def add_inbox_listeners(
        self,
        blueprint: Blueprint,
        on_new_message: OnNewMessage,
        *,
        background: Callable[[], Coroutine[Any, Any, Any]] | None = None,
    ) -> None:
        """Start and stop the inbox with the server.

        Once the server has started: the inbox's heartbeat and recovery (`Inbox.start`), then
        `background()` in a task when given. Before it stops: that task is cancelled, the
        messages in work are waited for (`Inbox.stop`) and the channel is closed (`close`).

        Args:
            blueprint: The channel's blueprint.
            on_new_message: The handler the inbox hands messages to.
            background: Work the channel runs while the server runs (polling, registering).
        """
        task: asyncio.Task | None = None

        @blueprint.listener("after_server_start")
        async def start_inbox(app: Any, loop: Any) -> None:
            nonlocal task
            self.inbox.start(on_new_message, recorded_by(app))
            if background is not None:
                task = asyncio.get_running_loop().create_task(background())

        @blueprint.listener("before_server_stop")
        async def stop_inbox(app: Any, loop: Any) -> None:
            nonlocal task
            running, task = task, None
            if running is not None and not running.done():
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
            await self.inbox.stop()
            await self.close()
