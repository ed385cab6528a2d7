"""Each reply once on a platform channel, also after a crash (the reply ledger, `sent_reply`).

Two ways a `kill -9` could make a citizen get a reply twice:

* **A turn handled again.** The Rasa server sent some of a delivered message's replies and died
  before saving the turn; the inbox hands the message to Rasa again (recovery, take-over), which
  answers it again. The inbox sends every turn through a `TurnOutput`: it numbers the turn's
  replies, records each one once the platform took it, and in a turn handled again skips the
  numbers recorded before.
* **An agent's reply sent again.** The desk worker appends the reply to the tracker through
  Rasa's HTTP API; Rasa sends it, then dies before saving; the worker sends it again.
  `AgentRepliesOnce` (a mixin of the WhatsApp, Meta, Telegram and e-mail output channels) sends
  a reply that carries `handoff_message_id` only when the ledger does not have it, and records
  it. A reply with a file the agent attached goes out through the channel's `send_agent_file`
  (`connectors.common.agent_files`).

A reply is recorded after it went out, so the one window left is a database write long (a crash
there sends that reply again); the ledger's reads and writes run on threads of their own
(`LEDGER_THREADS`), not behind the inbox's claims and order checks in asyncio's default pool,
which keeps that window short under load. A ledger that cannot be read or written never holds a
reply back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from connectors.common.agent_files import (
    ATTACHMENT_KEY,
    AgentFile,
    load_agent_file,
    with_notice,
    without_file,
)
from connectors.common.stores import inbound_repository
from helpdesk import metrics

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from rasa.core.channels.channel import OutputChannel

    from helpdesk.storage.attachments import AttachmentFiles
    from helpdesk.storage.inbound_messages import InboundMessageRepository

#: The metadata key of an agent's reply (set by `helpdesk.handoff.worker`).
AGENT_REPLY_KEY = "handoff_message_id"
#: Threads that read and write the ledger (each call is one short statement).
LEDGER_THREADS = 4

_T = TypeVar("_T")
_ledger_pool = ThreadPoolExecutor(LEDGER_THREADS, thread_name_prefix="reply-ledger")


async def _on_ledger_thread(call: Callable[..., _T], *args: Any) -> _T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_ledger_pool, functools.partial(call, *args))


async def replies_sent(
    repository: "InboundMessageRepository", channel: str, cause: str, log: logging.Logger
) -> frozenset[int]:
    """The ledger's replies to `cause`; none when it cannot be read (the reply is sent)."""
    try:
        return await _on_ledger_thread(repository.replies_sent, channel, cause)
    except Exception as exc:
        log.warning(
            "%s: could not read the replies sent for %s (%s); sending",
            channel,
            cause,
            type(exc).__name__,
        )
        return frozenset()


async def record_reply(
    repository: "InboundMessageRepository",
    channel: str,
    cause: str,
    seq: int,
    log: logging.Logger,
) -> None:
    """Record reply `seq` to `cause` as sent; a failure is logged, never raised."""
    try:
        await _on_ledger_thread(repository.record_reply, channel, cause, seq)
    except Exception as exc:
        log.warning(
            "%s: could not record reply %d to %s as sent (%s)",
            channel,
            seq,
            cause,
            type(exc).__name__,
        )


class TurnOutput:
    """The output channel of one delivered message's turn: each reply is sent once.

    Wraps the channel's output channel for Rasa (`UserMessage.output_channel`); Rasa sends a
    turn's replies through `send_response`, one call per reply, in order. Everything else is the
    wrapped channel's.

    Args:
        output: The channel's output channel.
        channel: The channel name (the ledger's `channel`).
        cause: The delivered message's id.
        repository: The reply ledger.
        sent: The reply numbers recorded before (a turn handled again); empty for a new message.
        log: The channel's logger.
    """

    def __init__(
        self,
        output: "OutputChannel",
        channel: str,
        cause: str,
        *,
        repository: "InboundMessageRepository",
        sent: frozenset[int] = frozenset(),
        log: logging.Logger,
    ) -> None:
        self._output = output
        self._channel = channel
        self._cause = cause
        self._repository = repository
        self._sent = sent
        self._log = log
        self._seq = 0

    @property
    def wrapped(self) -> "OutputChannel":
        """The channel's output channel this turn sends through."""
        return self._output

    def name(self) -> str:
        """The wrapped channel's name (Rasa picks channel-specific responses by it)."""
        return self._output.name()

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(self._output, attribute)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Send the turn's next reply, unless a handling cut short by a crash sent it."""
        self._seq += 1
        seq = self._seq
        if seq in self._sent:
            self._log.info(
                "%s: reply %d to %s went out before the crash; not sent again",
                self._channel,
                seq,
                self._cause,
            )
            return
        await self._output.send_response(recipient_id, message)
        await record_reply(self._repository, self._channel, self._cause, seq, self._log)


class AgentRepliesOnce:
    """Output channel mixin: an agent's reply (`handoff_message_id`) goes out once; every
    message sent is counted (`helpdesk_messages_total`, direction "out").

    Put it before the output channel's base class; `reply_ledger` may be set to a repository
    (default: the helpdesk services' inbound message store), `attachment_files` to the file
    store agents' files are read from (default: the helpdesk services' one).
    """

    reply_ledger: "InboundMessageRepository" | None = None
    attachment_files: "AttachmentFiles" | None = None

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        reply_id = message.get(AGENT_REPLY_KEY)
        channel = self.name()  # type: ignore[attr-defined]
        if reply_id is None:  # a turn's reply (`TurnOutput` keeps its ledger), the idle message
            await self._send_reply(recipient_id, message)
            metrics.message_out(channel)
            return
        log = logging.getLogger(f"connectors.{channel}")
        cause = f"handoff:{reply_id}"
        try:
            repository = inbound_repository(self.reply_ledger)
        except Exception as exc:  # no database configured: send, as without a ledger
            log.warning("%s: no reply ledger (%s); sending", channel, type(exc).__name__)
            await self._send_reply(recipient_id, message)
            metrics.message_out(channel)
            return
        if 1 in await replies_sent(repository, channel, cause, log):
            log.info("%s: agent reply %s went out before; not sent again", channel, reply_id)
            return
        await self._send_reply(recipient_id, message)
        metrics.message_out(channel)
        await record_reply(repository, channel, cause, 1, log)

    async def _send_reply(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Send a message; one with an agent's file through `send_agent_file` (its text alone
        when the file is no longer stored: erased or purged since the agent sent it)."""
        value = message.get(ATTACHMENT_KEY)
        if value is None:
            await super().send_response(recipient_id, message)  # type: ignore[misc]
            return
        rest = without_file(message)
        agent_file = await load_agent_file(value, self.attachment_files)
        if agent_file is None:
            channel = self.name()  # type: ignore[attr-defined]
            logging.getLogger(f"connectors.{channel}").warning(
                "%s: the file of agent reply %s is no longer stored; sending its text only",
                channel,
                message.get(AGENT_REPLY_KEY),
            )
            if str(rest.get("text") or "").strip():
                await super().send_response(recipient_id, rest)  # type: ignore[misc]
            return
        await self.send_agent_file(recipient_id, agent_file, rest)

    async def send_agent_file(
        self, recipient_id: str, agent_file: AgentFile, message: dict[str, Any]
    ) -> None:
        """Send an agent's reply with a file (`message`: the reply without the file's
        reference). Here, for a channel that cannot carry files: the text with a notice that
        a file was sent and how to get it; channels that can override it."""
        text = with_notice(message.get("text"), agent_file.filename)
        await super().send_response(recipient_id, {**message, "text": text})  # type: ignore[misc]
