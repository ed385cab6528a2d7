"""What the shared inbox (`connectors.inbox`) works with: a delivered message (`Inbound`), the
recovery and ordering policy (`InboxPolicy`), and what accepting a delivery did (`Accepted`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import DataError


@dataclass(frozen=True)
class Inbound:
    """One delivered message, ready to be handed to Rasa.

    Attributes:
        key: The delivery's unique id in its channel (Meta's `wamid...`, Telegram's
            `<bot id>:<update_id>`); Rasa's `message_id`.
        sender: The conversation key (a phone number, a chat id).
        kind: The platform's message type ("text", "interactive", "photo", ...).
        text: What Rasa gets as the user's text (a text, a button payload, a media id).
        metadata: The message metadata for Rasa.
        label: How logs name the message (default: the key).
    """

    key: str
    sender: str
    kind: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def log_id(self) -> str:
        return self.label or self.key

    def to_json(self) -> str:
        """This message as JSON (stored with the claim, for crash recovery)."""
        data: dict[str, Any] = {
            "message_id": self.key,
            "sender": self.sender,
            "type": self.kind,
            "text": self.text,
            "metadata": self.metadata,
        }
        if self.label:
            data["label"] = self.label
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> "Inbound":
        """The message `to_json` wrote.

        Raises:
            ValueError: When `data` is not such a message.
        """
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("not a stored inbound message")
        try:
            return cls(
                key=str(raw["message_id"]),
                sender=str(raw["sender"]),
                kind=str(raw["type"]),
                text=str(raw["text"]),
                metadata=dict(raw.get("metadata") or {}),
                label=str(raw.get("label") or ""),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError("not a stored inbound message") from exc


@dataclass(frozen=True)
class InboxPolicy:
    """When unfinished messages are handled again, dropped and forgotten.

    Attributes:
        recovery_delay: How long ago an unfinished message must have been claimed to be taken
            over (a younger one may be in work in another process).
        max_age: Unfinished messages older than this are dropped unanswered.
        retention: Handled message ids are forgotten after this long.
        shutdown_timeout: Seconds a stopping server waits for the messages in work.
        order_timeout: Seconds a message waits at most for the sender's earlier messages in
            other processes (longer than `recovery_delay`: an earlier message whose process
            died is taken over and handled first once its claim is that old).
        order_poll: Seconds between two looks at those earlier messages.
        heartbeat: Seconds between two renewals of the claims this process has in work (well
            under `recovery_delay`: a live process's claim never looks abandoned, however long
            a message waits for the sender's earlier ones or for Rasa's lock); default a
            quarter of `recovery_delay`.
        recovery_interval: Seconds between two looks for claims a dead process left (every
            process looks, so a survivor takes them over without waiting for a restart);
            default half of `recovery_delay`.
        purge_interval: Seconds between two purges of handled ids past `retention`.
    """

    recovery_delay: timedelta = timedelta(minutes=1)
    max_age: timedelta = timedelta(hours=24)
    retention: timedelta = timedelta(days=30)
    shutdown_timeout: float = 10.0
    order_timeout: float = 90.0
    order_poll: float = 0.05
    heartbeat: float | None = None
    recovery_interval: float | None = None
    purge_interval: float = 3600.0

    @property
    def heartbeat_every(self) -> float:
        """Seconds between two renewals of the claims in work."""
        return self.heartbeat or self.recovery_delay.total_seconds() / 4

    @property
    def recovery_every(self) -> float:
        """Seconds between two looks for abandoned claims."""
        return self.recovery_interval or self.recovery_delay.total_seconds() / 2


@dataclass(frozen=True)
class Accepted:
    """What `Inbox.accept` did with a delivery.

    Attributes:
        claimed: The messages claimed now (handled in the background).
        duplicates: The messages claimed before (acknowledged only).
        error: The database error that stopped the claiming (None when all went well).
    """

    claimed: tuple[Inbound, ...] = ()
    duplicates: tuple[Inbound, ...] = ()
    error: Exception | None = None

    @property
    def dropped(self) -> bool:
        """Whether the database refused the delivery for its content (acknowledged anyway)."""
        return isinstance(self.error, (DataError, UnicodeError))

    def answer(self) -> tuple[int, str]:
        """The HTTP status and status word for the platform."""
        if self.error is not None and not self.dropped:
            return 503, "unavailable"
        if self.duplicates and not self.claimed:
            return 200, "duplicate"
        return 200, "ok"
