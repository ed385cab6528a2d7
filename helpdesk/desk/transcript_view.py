"""A handed-over conversation as the agent desk shows it.

The citizen's and the bot's messages come from Rasa's tracker store (`helpdesk.rasa_bridge.events`),
the agents' replies and their delivery status from the outbox (`handoff_message`), and the
handoff itself gives markers (requested, taken, ended). The transcript covers the session in
which the handoff began: from its `session_started` event up to the next one (or now).

Everything here builds plain display items; templates escape every text (citizens' messages
are never trusted as HTML) and the browser script inserts them as text only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Iterable, Mapping

from sqlalchemy.engine import Engine

from helpdesk.handoff.agent_files import PHOTO_TYPES, content_type_for
from helpdesk.handoff.service import (
    HandoffMessageRecord,
    HandoffRecord,
    HandoffStatus,
    OutboxStatus,
)
from helpdesk.rasa_bridge.events import TrackerEvent, read_events
from helpdesk.security.masking import mask_digits

#: How each channel is named on the desk.
CHANNEL_LABELS = {
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "webchat": "Web chat",
    "socketio": "Web chat",
    "rest": "REST",
    "cmdline": "Baris perintah",
}
#: Handoff statuses as agents read them.
HANDOFF_STATUS_LABELS: dict[str, str] = {
    HandoffStatus.WAITING: "Menunggu petugas",
    HandoffStatus.ASSIGNED: "Ditangani petugas",
    HandoffStatus.RESOLVED: "Selesai",
    HandoffStatus.CANCELLED: "Dibatalkan warga",
    HandoffStatus.EXPIRED: "Kedaluwarsa (jadi tiket)",
}
#: Delivery states of an agent's reply.
DELIVERY_LABELS: dict[str, str] = {
    OutboxStatus.PENDING: "Menunggu dikirim",
    OutboxStatus.SENT: "Terkirim",
    OutboxStatus.FAILED: "Gagal dikirim",
}
#: Kinds of media a citizen sends, in Indonesian.
MEDIA_LABELS = {
    "image": "Gambar",
    "photo": "Gambar",
    "document": "Dokumen",
    "audio": "Audio",
    "voice": "Pesan suara",
    "video": "Video",
    "video_note": "Video",
    "animation": "Animasi",
    "sticker": "Stiker",
}
#: Tracker events that begin a new session.
SESSION_START_EVENTS = ("session_started", "restart")

_PHONE_LIKE = re.compile(r"^\+?[0-9][0-9 \-]{6,}$")


def channel_label(channel: str | None) -> str:
    """The channel's name for agents ("WhatsApp", "Web chat", ...)."""
    if not channel:
        return "Tidak diketahui"
    return CHANNEL_LABELS.get(channel.lower(), channel)


def mask_sender_id(sender_id: str) -> str:
    """A phone-like sender id with all but its last 4 digits hidden; other ids as they are."""
    if not _PHONE_LIKE.match(sender_id):
        return sender_id
    return mask_digits("".join(ch for ch in sender_id if ch.isdigit()))


def wait_label(since: datetime, now: datetime) -> str:
    """ "menunggu 4 mnt" (or "< 1 mnt", "1 j 5 mnt") since an aware time."""
    return f"menunggu {duration_label(now - since)}"


def duration_label(elapsed: timedelta) -> str:
    """A short Indonesian duration: "< 1 mnt", "4 mnt", "1 j 5 mnt"."""
    minutes = max(0, int(elapsed.total_seconds() // 60))
    if minutes < 1:
        return "< 1 mnt"
    if minutes < 60:
        return f"{minutes} mnt"
    hours, rest = divmod(minutes, 60)
    return f"{hours} j {rest} mnt" if rest else f"{hours} j"


def time_label(at: datetime, tz: tzinfo, now: datetime | None = None) -> str:
    """ "09.31" today, "14/04 09.31" on another day (in the helpdesk's time zone)."""
    local = at.astimezone(tz)
    today = (now or datetime.now(timezone.utc)).astimezone(tz).date()
    return f"{local:%H.%M}" if local.date() == today else f"{local:%d/%m %H.%M}"


@dataclass(frozen=True)
class Attachment:
    """A file a citizen sent (the channel's media id; the file stays on the channel), or one
    an agent sent (its reference in the helpdesk file store)."""

    kind: str
    label: str
    media_id: str
    mime_type: str | None = None
    filename: str | None = None
    caption: str | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> "Attachment | None":
        media = metadata.get("media")
        if not isinstance(media, Mapping):
            return None
        media_id = _text(media.get("id"))
        if not media_id:
            return None
        kind = _text(media.get("type")) or "file"
        return cls(
            kind=kind,
            label=MEDIA_LABELS.get(kind, "Berkas"),
            media_id=media_id,
            mime_type=_text(media.get("mime_type")),
            filename=_text(media.get("filename")),
            caption=_text(media.get("caption")),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "media_id": self.media_id,
            "mime_type": self.mime_type,
            "filename": self.filename,
            "caption": self.caption,
        }


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    cleaned = str(value).strip()
    return cleaned or None


@dataclass(frozen=True)
class TranscriptItem:
    """One line of the transcript.

    Attributes:
        key: Unique on the page: "e<event id>", "m<message id>" or "h<handoff id>-<marker>".
        kind: "citizen", "bot", "agent" or "marker".
        text: The message (plain text).
        at: When it was said (UTC).
        buttons: Titles of the buttons the bot offered.
        attachment: A file the citizen or the agent sent.
        status: Delivery status of an agent reply (pending, sent, failed).
        author: The agent's name for agent replies.
        intent: What the assistant understood of a citizen's message.
    """

    key: str
    kind: str
    text: str
    at: datetime
    buttons: tuple[str, ...] = ()
    attachment: Attachment | None = None
    status: str | None = None
    author: str | None = None
    intent: str | None = None

    @property
    def status_label(self) -> str | None:
        return DELIVERY_LABELS.get(self.status, self.status) if self.status else None

    def as_json(self, tz: tzinfo, now: datetime | None = None) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "text": self.text,
            "at": self.at.isoformat(),
            "time": time_label(self.at, tz, now),
            "buttons": list(self.buttons),
            "attachment": self.attachment.as_json() if self.attachment else None,
            "status": self.status,
            "status_label": self.status_label,
            "author": self.author,
        }


@dataclass(frozen=True)
class SessionWindow:
    """The tracker events of the session in which a handoff began.

    Attributes:
        after_id: Events after this row id belong to it (the session start's id, or 0).
        before_id: Events from this row id on belong to a later session (None: up to now).
        start: When the session began (UTC), or None when the tracker has no start for it.
        end: When the next session began (UTC), or None.
    """

    after_id: int = 0
    before_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None


def handoff_anchor_ts(handoff: HandoffRecord) -> float:
    """Tracker time (epoch seconds) of the handoff request."""
    if handoff.since_ts is not None:
        return float(handoff.since_ts)
    return handoff.created_at.timestamp()


def session_window(engine: Engine, handoff: HandoffRecord) -> SessionWindow:
    """Find the session of the tracker in which the handoff was requested."""
    anchor = handoff_anchor_ts(handoff)
    starts = read_events(engine, handoff.sender_id, types=SESSION_START_EVENTS)
    before = [event for event in starts if event.timestamp <= anchor]
    after = [event for event in starts if event.timestamp > anchor]
    start = before[-1] if before else None
    end = after[0] if after else None
    return SessionWindow(
        after_id=start.id if start else 0,
        before_id=end.id if end else None,
        start=start.at if start else None,
        end=end.at if end else None,
    )


@dataclass
class EventBatch:
    """Transcript items read from the tracker and the cursor to continue from."""

    items: list[TranscriptItem] = field(default_factory=list)
    cursor: int = 0


def read_tracker_items(
    engine: Engine,
    handoff: HandoffRecord,
    window: SessionWindow,
    *,
    after_id: int = 0,
    outbox_ids: Iterable[int] = (),
) -> EventBatch:
    """The citizen's and the bot's messages of the handoff's session after row `after_id`.

    Bot events that carry `handoff_message_id` of one of `outbox_ids` are agent replies
    shown from the outbox (with their delivery status) and are left out here; the replies of
    other handoffs appear as agent items.
    """
    start = max(after_id, window.after_id)
    events = read_events(engine, handoff.sender_id, after_id=start)
    if window.before_id is not None:
        events = [event for event in events if event.id < window.before_id]
    known = set(outbox_ids)
    batch = EventBatch(cursor=start)
    for event in events:
        batch.cursor = event.id
        item = item_from_event(event, known)
        if item is not None:
            batch.items.append(item)
    return batch


def item_from_event(event: TrackerEvent, outbox_ids: set[int]) -> TranscriptItem | None:
    """The display item of one tracker event, or None for events that are no message."""
    key = f"e{event.id}"
    if event.type_name == "user":
        attachment = Attachment.from_metadata(event.metadata)
        text = event.text
        if attachment is not None and text == attachment.media_id:
            text = ""  # the channel put the media id in the text; the attachment shows it
        if not text and attachment is None:
            return None
        if text.startswith("/"):
            # A button press: Rasa logs the payload ("/handoff"); say what was chosen.
            text = f"[memilih tombol: {text[1:].split('{', 1)[0] or text}]"
        return TranscriptItem(
            key=key,
            kind="citizen",
            text=text,
            at=event.at,
            attachment=attachment,
            intent=event.intent,
        )
    if event.type_name == "bot":
        metadata = event.metadata
        message_id = metadata.get("handoff_message_id")
        if isinstance(message_id, int) and message_id in outbox_ids:
            return None
        buttons = _button_titles(event.data)
        text = event.text
        if not text and not buttons:
            return None
        if isinstance(message_id, int):
            return TranscriptItem(
                key=key,
                kind="agent",
                text=text,
                at=event.at,
                status=OutboxStatus.SENT,
                author=_text(metadata.get("agent")),
            )
        return TranscriptItem(key=key, kind="bot", text=text, at=event.at, buttons=buttons)
    return None


def _button_titles(data: Mapping[str, Any]) -> tuple[str, ...]:
    inner = data.get("data")
    buttons = inner.get("buttons") if isinstance(inner, Mapping) else None
    if not isinstance(buttons, list):
        return ()
    titles = []
    for button in buttons:
        if isinstance(button, Mapping):
            title = _text(button.get("title")) or _text(button.get("payload"))
            if title:
                titles.append(title)
    return tuple(titles)


def outbox_items(
    messages: Iterable[HandoffMessageRecord], agent_names: Mapping[int, str]
) -> list[TranscriptItem]:
    """The agents' replies of a handoff with their delivery status and their files."""
    return [
        TranscriptItem(
            key=f"m{message.id}",
            kind="agent",
            text=message.text,
            at=message.created_at,
            attachment=_agent_attachment(message),
            status=message.status,
            author=agent_names.get(message.agent_id) if message.agent_id else None,
        )
        for message in messages
    ]


def _agent_attachment(message: HandoffMessageRecord) -> Attachment | None:
    """The file an agent sent with a reply (its reference in the helpdesk file store)."""
    if not message.attachment_key:
        return None
    name = message.attachment_name or ""
    mime_type = content_type_for(name)
    kind = "image" if mime_type in PHOTO_TYPES else "document"
    return Attachment(kind, MEDIA_LABELS[kind], message.attachment_key, mime_type, name or None)


def marker_items(handoff: HandoffRecord, agent_name: str | None) -> list[TranscriptItem]:
    """Markers of the handoff: requested, taken by an agent, and how it ended."""
    start = datetime.fromtimestamp(handoff_anchor_ts(handoff), tz=timezone.utc)
    markers = [
        TranscriptItem(
            key=f"h{handoff.id}-start",
            kind="marker",
            text="Warga meminta bicara dengan petugas",
            at=start,
        )
    ]
    if handoff.assigned_at is not None:
        who = agent_name or "petugas"
        markers.append(
            TranscriptItem(
                key=f"h{handoff.id}-assigned",
                kind="marker",
                text=f"Percakapan ditangani oleh {who}",
                at=handoff.assigned_at,
            )
        )
    if handoff.ended_at is not None:
        markers.append(
            TranscriptItem(
                key=f"h{handoff.id}-end",
                kind="marker",
                text=_end_text(handoff),
                at=handoff.ended_at,
            )
        )
    return markers


def _end_text(handoff: HandoffRecord) -> str:
    if handoff.status == HandoffStatus.RESOLVED:
        return "Percakapan diselesaikan petugas"
    if handoff.status == HandoffStatus.CANCELLED:
        return "Warga membatalkan permintaan bicara dengan petugas"
    if handoff.status == HandoffStatus.EXPIRED:
        ticket = f" {handoff.ticket_id}" if handoff.ticket_id else ""
        return f"Tidak ada petugas yang mengambil; percakapan dijadikan tiket{ticket}"
    return f"Percakapan berakhir ({handoff.status})"


_KIND_ORDER = {"marker": 0, "citizen": 1, "bot": 1, "agent": 2}


def merge_items(*groups: Iterable[TranscriptItem]) -> list[TranscriptItem]:
    """All items in time order (a marker first when times are equal)."""
    items = [item for group in groups for item in group]
    return sorted(items, key=lambda item: (item.at, _KIND_ORDER.get(item.kind, 3)))


@dataclass
class Transcript:
    """What the conversation page shows, and the cursor its live updates continue from."""

    items: list[TranscriptItem]
    cursor: int
    window: SessionWindow


def build_transcript(
    engine: Engine | None,
    handoff: HandoffRecord,
    messages: list[HandoffMessageRecord],
    agent_names: Mapping[int, str],
) -> Transcript:
    """The whole transcript of the handoff's session (tracker + outbox + markers).

    Without a tracker engine (not configured) only the outbox and the markers show.
    """
    agent_name = agent_names.get(handoff.agent_id) if handoff.agent_id else None
    if engine is None:
        window = SessionWindow()
        batch = EventBatch()
    else:
        window = session_window(engine, handoff)
        batch = read_tracker_items(engine, handoff, window, outbox_ids=[m.id for m in messages])
    items = merge_items(
        batch.items, outbox_items(messages, agent_names), marker_items(handoff, agent_name)
    )
    return Transcript(items=items, cursor=batch.cursor, window=window)
