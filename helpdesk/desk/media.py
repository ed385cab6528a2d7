"""Citizens' files as agents open them on the desk: a stored e-mail attachment
("email-att:<digest>"), or a channel's media id fetched from the platform on first opening.

A channel's media (a WhatsApp media id, kept as a ticket's attachment or in a message's
metadata) is fetched by the channel's `MediaSource`, given to the desk by its wiring (the
desk does not know the platforms' APIs), checked with the rules every channel shares
(`helpdesk.storage.attachments.refusal_of`) and kept in the same file store as e-mail
attachments, with the citizen as its sender: privacy requests and retention cover it, and
the next opening reads it from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol

from helpdesk.storage.attachments import REFERENCE_PREFIX, AttachmentFiles, refusal_of


class MediaUnavailable(Exception):
    """The platform did not give the file (down, refused our token, the media is gone)."""


class MediaRefused(Exception):
    """The file is not one the helpdesk keeps (`reason`: "too large", "type not accepted")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MediaFile:
    """A file as a platform gave it."""

    data: bytes
    content_type: str
    filename: str | None = None


class MediaSource(Protocol):
    """Fetches a channel's media by its id (`connectors.whatsapp.media.WhatsAppMedia`)."""

    def fetch(self, media_id: str) -> MediaFile:
        """The file; raises `MediaUnavailable`, or `MediaRefused` when the platform says
        the file is larger than the helpdesk keeps."""
        ...  # pragma: no cover


@dataclass(frozen=True)
class StoredFile:
    """A file ready to serve."""

    path: Path
    content_type: str
    filename: str

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


#: The file name a file without one is served as, by type.
_DEFAULT_NAMES = {"image/jpeg": "lampiran.jpg", "image/png": "lampiran.png"}


def _stored(files: AttachmentFiles, reference: str) -> StoredFile | None:
    path = files.path_of(reference)
    info = files.describe(reference)
    if path is None or info is None:
        return None
    content_type = str(info.get("type") or "application/octet-stream")
    filename = str(info.get("filename") or _DEFAULT_NAMES.get(content_type, "lampiran"))
    return StoredFile(path, content_type, filename)


def open_attachment(
    files: AttachmentFiles,
    reference: str,
    *,
    channel: str | None,
    sender_id: str | None,
    sources: Mapping[str, MediaSource],
) -> StoredFile | None:
    """The file of an attachment reference: from the store, else fetched from `channel`'s
    source (and stored with `sender_id` as its sender). None when there is no such file
    (an unknown reference, a channel without a source).

    Raises:
        MediaUnavailable: The platform did not give the file.
        MediaRefused: The file is too large or of a type the helpdesk does not keep.
    """
    if reference.startswith(REFERENCE_PREFIX):
        return _stored(files, reference)
    source = sources.get(channel or "")
    if source is None:
        return None
    key = f"{channel}:{reference}"
    known = files.reference_of_media(key)
    if known is not None:
        return _stored(files, known)
    media = source.fetch(reference)
    content_type = media.content_type.split(";")[0].strip().lower()
    reason = refusal_of(len(media.data), content_type, media.filename)
    if reason:
        raise MediaRefused(reason)
    stored = files.put(
        media.data,
        media.filename or _DEFAULT_NAMES.get(content_type, "lampiran"),
        content_type,
        sender_id,
        media_key=key,
    )
    return _stored(files, stored)


def servable(reference: str | None) -> bool:
    """Whether the desk serves an attachment reference itself: a stored file or a channel's
    media id (a web address, as Messenger and Instagram give, is shown as it is)."""
    text = (reference or "").strip()
    return bool(text) and not text.lower().startswith(("http://", "https://"))


def configured_sources(settings: Any) -> dict[str, MediaSource]:
    """The media sources of the channels the settings configure (by channel name)."""
    from helpdesk.desk.whatsapp_media import WhatsAppMedia

    sources: dict[str, MediaSource] = {}
    whatsapp = WhatsAppMedia.from_settings(settings)
    if whatsapp is not None:
        sources["whatsapp"] = whatsapp
    return sources
