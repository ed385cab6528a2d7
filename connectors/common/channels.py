"""What input channels share: the handler type, the health route, one channel per conversation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import Any, AsyncIterator, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.text import mask_id

#: Rasa's message handler, as given to `InputChannel.blueprint`.
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def add_health_route(blueprint: Blueprint, uri: str = "/") -> None:
    """Add `GET uri` answering `{"status": "ok"}` to a channel's blueprint."""

    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    blueprint.add_route(health, uri, methods=["GET"])


async def conversation_channel(tracker_store: Any, sender_id: str) -> str | None:
    """The channel a conversation belongs to: that of its first user message.

    Args:
        tracker_store: Rasa's tracker store (`agent.tracker_store`).
        sender_id: The conversation id.

    Returns:
        The `input_channel` of the first user message of every session that names one; None
        when there is no conversation yet, or no user message with a channel in it.
    """
    tracker = await tracker_store.retrieve_full_tracker(sender_id)
    if tracker is None:
        return None
    for event in tracker.events:
        if isinstance(event, UserUttered) and event.input_channel:
            return str(event.input_channel)
    return None


def recorded_by(app: Any) -> Callable[[str, str], Awaitable[bool]]:
    """`recorded(sender_id, message_id)`: whether Rasa saved that user message in the
    conversation (its latest session) in `app`'s tracker store; False without an agent."""

    async def recorded(sender_id: str, message_id: str) -> bool:
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return False
        tracker = await store.retrieve(sender_id)
        if tracker is None:
            return False
        return any(
            isinstance(event, UserUttered) and event.message_id == message_id
            for event in reversed(tracker.events)
        )

    return recorded


class ConversationGuard:
    """Keeps every conversation on the channel it started on.

    A sender id is a conversation id: on WhatsApp the citizen's phone number, on Telegram the
    chat id, on the web chat a session id, on REST whatever the integrator sends. Without a
    check a REST caller sending a WhatsApp number as `sender` would write into that citizen's
    conversation (their slots, the agent's transcript), and a WhatsApp citizen would carry on
    a conversation someone else started over REST. A channel asks `other_channel` before it
    hands a message to Rasa and refuses the message when the conversation is another
    channel's (the REST channel answers 409, the others drop it with a warning).

    The owner of a conversation never changes (it is its first user message), so owners are
    remembered in this process (the most recent `max_entries`): only a sender's first
    messages in a process read the tracker store. A conversation without an owner yet is read
    again each time; two channels starting the very same new conversation id at the same
    moment can both pass (the check runs before Rasa's per-conversation lock).

    Args:
        channel: The guarding channel's name (`input_channel` of its messages).
        max_entries: How many owners are remembered.
    """

    def __init__(self, channel: str, *, max_entries: int = 10_000) -> None:
        if not channel:
            raise ValueError("channel must not be empty")
        if max_entries <= 0:
            raise ValueError("max_entries must be > 0")
        self.channel = channel
        self._max_entries = max_entries
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._app: Any = None

    def attach(self, blueprint: Blueprint) -> None:
        """Remember the Sanic app when the server starts (for channels whose handlers get no
        request, e.g. socket.io events and background tasks)."""

        async def remember_app(app: Any, _: Any) -> None:
            self._app = app

        blueprint.listener("before_server_start")(remember_app)

    def tracker_store(self, app: Any = None) -> Any:
        """Rasa's tracker store of `app` (default: the attached one); None without an agent."""
        app = app if app is not None else self._app
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        return getattr(agent, "tracker_store", None)

    async def other_channel(self, sender_id: str, app: Any = None) -> str | None:
        """The channel the conversation `sender_id` belongs to, when it is not this one.

        Args:
            sender_id: The conversation id of the message.
            app: The Sanic app (from the request); default: the attached one.

        Returns:
            The other channel's name; None when the conversation is this channel's, has no
            owner yet, or there is no agent to ask.

        Raises:
            Exception: Whatever the tracker store raises (e.g. its database is down): a
                message must not pass unchecked.
        """
        owner = self._owners.get(sender_id)
        if owner is None:
            store = self.tracker_store(app)
            if store is None:
                return None
            owner = await conversation_channel(store, sender_id)
            if owner is None:
                return None
            self._owners[sender_id] = owner
            while len(self._owners) > self._max_entries:
                self._owners.popitem(last=False)
        else:
            self._owners.move_to_end(sender_id)
        return None if owner == self.channel else owner

    def guarded(self, on_new_message: OnNewMessage, log: logging.Logger) -> OnNewMessage:
        """`on_new_message` that drops (with a warning in `log`) the messages of a
        conversation another channel owns; for channels that hand messages to Rasa in
        background tasks (WhatsApp, Telegram), where there is no reply to refuse with."""

        async def handle(message: UserMessage) -> Any:
            other = await self.other_channel(message.sender_id)
            if other is not None:
                log.warning(
                    "%s: message from %s dropped: the conversation belongs to the %s channel",
                    self.channel,
                    mask_id(message.sender_id),
                    other,
                )
                return None
            return await on_new_message(message)

        return handle


class KeyedLocks:
    """One FIFO lock per key (sender), dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
