"""What agents know about a citizen: one contact per conversation key, with notes and tags.

A contact is made the first time an agent opens one of the citizen's conversations and keeps
the agents' notes and tags across every later handoff of the same sender id. Tags are stored
as comma-separated lower-case text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import Contact, utcnow

#: Longest note kept (characters).
MAX_NOTES_LENGTH = 4000
#: Longest single tag (characters) and most tags per contact.
MAX_TAG_LENGTH = 40
MAX_TAGS = 20
#: Longest stored name and channel (the column sizes).
_MAX_NAME_LENGTH = 255
_MAX_CHANNEL_LENGTH = 64


class ContactValidationError(ValueError):
    """Notes or tags an agent typed are not acceptable (the message is Indonesian)."""


@dataclass(frozen=True)
class ContactRecord:
    """A contact, detached from any session."""

    id: int
    sender_id: str
    channel: str | None
    name: str | None
    notes: str
    tags: tuple[str, ...]
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Contact) -> "ContactRecord":
        return cls(
            id=row.id,
            sender_id=row.sender_id,
            channel=row.channel,
            name=row.name,
            notes=row.notes or "",
            tags=split_tags(row.tags or ""),
            updated_at=row.updated_at,
        )


def split_tags(text: str | Iterable[str]) -> tuple[str, ...]:
    """Tags from comma-separated text (or an iterable): trimmed, lower case, no duplicates.

    Inner runs of whitespace become one space; empty items are dropped; order is kept.
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    seen: dict[str, None] = {}
    for item in items:
        tag = " ".join(str(item).split()).lower()
        if tag:
            seen.setdefault(tag, None)
    return tuple(seen)


def check_contact_fields(notes: str, tags: str | Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """Cleaned notes and tags, or `ContactValidationError` saying what is wrong.

    Raises:
        ContactValidationError: Notes too long, a tag too long, or too many tags.
    """
    cleaned_notes = notes.replace("\r\n", "\n").strip()
    if len(cleaned_notes) > MAX_NOTES_LENGTH:
        raise ContactValidationError(f"Catatan maksimal {MAX_NOTES_LENGTH} karakter.")
    cleaned_tags = split_tags(tags)
    if any(len(tag) > MAX_TAG_LENGTH for tag in cleaned_tags):
        raise ContactValidationError(f"Setiap label maksimal {MAX_TAG_LENGTH} karakter.")
    if len(cleaned_tags) > MAX_TAGS:
        raise ContactValidationError(f"Label maksimal {MAX_TAGS} buah.")
    return cleaned_notes, cleaned_tags


def _clip(value: str | None, limit: int) -> str | None:
    cleaned = (value or "").strip()
    return cleaned[:limit] or None


class ContactRepository(_Repository):
    """Contacts by sender id: made on first sight, notes and tags edited by agents."""

    def get(self, sender_id: str) -> ContactRecord | None:
        """The contact of a sender id, or None."""
        with session_scope(self._sessions) as session:
            row = session.execute(
                select(Contact).where(Contact.sender_id == sender_id)
            ).scalar_one_or_none()
            return ContactRecord.from_row(row) if row is not None else None

    def get_or_create(
        self, sender_id: str, channel: str | None = None, name: str | None = None
    ) -> ContactRecord:
        """The sender's contact, made now when missing.

        A known name or channel fills in a missing one and replaces an outdated one (the
        citizen may have changed their profile name); notes and tags are never touched.

        Raises:
            ValueError: For an empty sender id.
        """
        if not sender_id:
            raise ValueError("sender_id must not be empty")
        channel = _clip(channel, _MAX_CHANNEL_LENGTH)
        name = _clip(name, _MAX_NAME_LENGTH)

        def work() -> ContactRecord:
            with session_scope(self._sessions) as session:
                row = session.execute(
                    select(Contact).where(Contact.sender_id == sender_id)
                ).scalar_one_or_none()
                if row is None:
                    row = Contact(
                        sender_id=sender_id,
                        channel=channel,
                        name=name,
                        notes="",
                        tags="",
                        updated_at=utcnow(),
                    )
                    session.add(row)
                else:
                    changed = False
                    if channel and row.channel != channel:
                        row.channel, changed = channel, True
                    if name and row.name != name:
                        row.name, changed = name, True
                    if changed:
                        row.updated_at = utcnow()
                session.flush()
                return ContactRecord.from_row(row)

        try:
            return retry_on_locked(work)
        except IntegrityError:
            # Another request made the same contact at the same moment: theirs stands.
            found = self.get(sender_id)
            if found is None:
                raise
            return found

    def update(self, sender_id: str, notes: str, tags: str | Iterable[str]) -> ContactRecord | None:
        """Replace a contact's notes and tags; None when the sender has no contact.

        Raises:
            ContactValidationError: For notes or tags that are too long or too many.
        """
        cleaned_notes, cleaned_tags = check_contact_fields(notes, tags)

        def work() -> ContactRecord | None:
            with session_scope(self._sessions) as session:
                row = session.execute(
                    select(Contact).where(Contact.sender_id == sender_id)
                ).scalar_one_or_none()
                if row is None:
                    return None
                row.notes = cleaned_notes
                row.tags = ",".join(cleaned_tags)
                row.updated_at = utcnow()
                session.flush()
                return ContactRecord.from_row(row)

        return retry_on_locked(work)
