"""Files agents send to citizens from the desk, with a reply of the handoff.

The desk checks an uploaded file (`check_upload`: the rules every channel's files follow,
`helpdesk.storage.attachments.refusal_of`, with the type taken from the name's extension and
confirmed by the file's first bytes) and keeps it in the helpdesk file store with the
citizen's sender id recorded as a party of the file (`store_agent_file`): the citizen's
erasure and the retention job remove it as they remove the files the citizen sent. The reply
row points to it (`handoff_message.attachment_key`, `attachment_name`).

The desk worker puts `attachment_metadata` in the bot message's metadata under
`ATTACHMENT_KEY`; the Rasa server's output channel of the conversation reads the bytes from
the same store (`read_agent_file`: the same machine, or a shared var directory) and sends them
the way its platform allows (`connectors.common.agent_files`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Mapping

from helpdesk.storage.attachments import ALLOWED_TYPES, AttachmentFiles, refusal_of

#: The metadata key of an agent's file in the bot message (`attachment_metadata`).
ATTACHMENT_KEY = "agent_attachment"
#: The longest file name kept (the extension is kept when a name is cut).
MAX_NAME_LENGTH = 128
#: Images every channel shows as a photo; other files go as documents.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})

#: What a file of each type starts with (a type not listed here is not checked this way).
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "application/msword": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "application/vnd.ms-excel": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|]+")


class FileRefused(Exception):
    """The file cannot be sent (`reason`: "empty", "too large" or "type not accepted")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AgentFile:
    """An agent's file as an output channel sends it."""

    data: bytes
    filename: str
    content_type: str

    @property
    def is_photo(self) -> bool:
        """Whether channels send it as a picture (JPEG, PNG) rather than a document."""
        return self.content_type in PHOTO_TYPES


@dataclass(frozen=True)
class StoredAgentFile:
    """An agent's file kept in the store: its reference and the name it is sent under."""

    reference: str
    filename: str
    content_type: str


def content_type_for(filename: str) -> str | None:
    """The type a file name's extension stands for among the kept types (None: none)."""
    suffix = PurePath(filename).suffix.lower()
    for content_type, extensions in ALLOWED_TYPES.items():
        if suffix and suffix in extensions:
            return content_type
    return None


def clean_filename(filename: str) -> str:
    """The last part of an uploaded file's name (browsers may send a path), without control
    characters and characters file systems refuse, at most `MAX_NAME_LENGTH` long."""
    base = re.split(r"[\\/]", filename or "")[-1]
    name = _UNSAFE_NAME.sub("_", base).strip(" ._")
    if len(name) > MAX_NAME_LENGTH:
        suffix = PurePath(name).suffix[:16]
        name = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return name


def _looks_like(data: bytes, content_type: str) -> bool:
    if content_type == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if content_type.startswith("text/"):
        return b"\x00" not in data
    signatures = _SIGNATURES.get(content_type)
    return signatures is None or data.startswith(signatures)


def check_upload(data: bytes, filename: str) -> tuple[str, str]:
    """The clean name and the type of a file an agent attached.

    The type comes from the name's extension (what browsers send as the type varies) and
    must be one the helpdesk keeps, with content that starts the way such files do.

    Raises:
        FileRefused: Empty, over `MAX_BYTES`, or of a type the helpdesk does not keep.
    """
    name = clean_filename(filename)
    if not data:
        raise FileRefused("empty")
    content_type = content_type_for(name) or "application/octet-stream"
    reason = refusal_of(len(data), content_type, name)
    if reason:
        raise FileRefused(reason)
    if not _looks_like(data, content_type):
        raise FileRefused("type not accepted")
    return name, content_type


def store_agent_file(
    files: AttachmentFiles, data: bytes, filename: str, citizen_sender_id: str
) -> StoredAgentFile:
    """Check a file an agent attached and keep it, the citizen recorded as its party.

    Raises:
        FileRefused: See `check_upload`.
    """
    name, content_type = check_upload(data, filename)
    reference = files.put(data, name, content_type, citizen_sender_id)
    return StoredAgentFile(reference, name, content_type)


def attachment_metadata(reference: str, filename: str) -> dict[str, str]:
    """What the bot message carries under `ATTACHMENT_KEY`: the store's reference, the
    name and the type (never the content)."""
    return {
        "id": reference,
        "filename": filename,
        "type": content_type_for(filename) or "application/octet-stream",
    }


def read_agent_file(files: AttachmentFiles, value: Any) -> AgentFile | None:
    """The file a bot message's `ATTACHMENT_KEY` value refers to; None when the value is not
    one or the file is gone (the citizen's erasure, the retention job)."""
    if not isinstance(value, Mapping):
        return None
    reference = str(value.get("id") or "")
    path = files.path_of(reference)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    filename = clean_filename(str(value.get("filename") or "")) or "lampiran"
    content_type = content_type_for(filename) or str(value.get("type") or "")
    return AgentFile(data, filename, content_type or "application/octet-stream")


def file_exists(files: AttachmentFiles, reference: str | None) -> bool:
    """Whether the store still holds the file of `reference`."""
    return bool(reference) and files.path_of(reference or "") is not None
