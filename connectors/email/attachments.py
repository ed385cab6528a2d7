"""Attachments of citizens' mails, checked and kept in the helpdesk's var directory.

A file is kept when its type is one a helpdesk needs (images, PDF, office documents, text)
and it is at most `MAX_BYTES`; it is stored once under its SHA-256 in
`<HELPDESK_VAR_DIR>/email_attachments/` with a JSON sidecar (file name, type, size, the
senders and when they sent it) by `helpdesk.storage.attachments`, which the privacy
requests and the retention job also use (store `email_attachments`). Its
reference, "email-att:<40 hex digits>", is what the ticket form stores as the attachment, as
it stores a WhatsApp media id (`helpdesk.conversation.validation.validate_attachment`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Sequence

from connectors.email.parse import Attachment
from helpdesk.storage.attachments import REFERENCE_PREFIX as REFERENCE_PREFIX
from helpdesk.storage.attachments import AttachmentFiles, attachments_folder

#: The largest file kept.
MAX_BYTES = 10 * 1024 * 1024

#: The most attachments kept of one mail.
MAX_FILES = 5

#: Types kept, and the file name extensions each may have.
ALLOWED_TYPES: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({".jpg", ".jpeg"}),
    "image/png": frozenset({".png"}),
    "image/gif": frozenset({".gif"}),
    "image/webp": frozenset({".webp"}),
    "application/pdf": frozenset({".pdf"}),
    "application/msword": frozenset({".doc"}),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": frozenset({".docx"}),
    "application/vnd.ms-excel": frozenset({".xls"}),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": frozenset({".xlsx"}),
    "text/plain": frozenset({".txt", ".log"}),
    "text/csv": frozenset({".csv"}),
}


@dataclass(frozen=True)
class Kept:
    """An attachment kept (`reference`) or refused (`reason`)."""

    filename: str
    content_type: str
    size: int
    reference: str = ""
    reason: str = ""

    def as_metadata(self) -> dict[str, object]:
        data: dict[str, object] = {
            "filename": self.filename[:128],
            "type": self.content_type[:128],
            "size": self.size,
        }
        if self.reference:
            data["id"] = self.reference
        if self.reason:
            data["refused"] = self.reason
        return data


def refusal(attachment: Attachment) -> str:
    """Why an attachment is not kept ("" when it is)."""
    if len(attachment.data) > MAX_BYTES:
        return "too large"
    extensions = ALLOWED_TYPES.get(attachment.content_type.lower())
    if extensions is None:
        return "type not accepted"
    suffix = PurePath(attachment.filename).suffix.lower() if attachment.filename else ""
    if suffix and suffix not in extensions:
        return "type not accepted"
    return ""


class AttachmentStore:
    """Keeps checked attachments in the helpdesk's file store under `folder` (made on first
    use), with the sender that sent them (`helpdesk.storage.attachments`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = AttachmentFiles(folder)

    def path_of(self, reference: str) -> Path | None:
        """The file of a reference (None when it is not one of ours or is gone)."""
        return self.files.path_of(reference)

    def keep(self, attachments: Sequence[Attachment], sender_id: str | None = None) -> list[Kept]:
        """Check and store a mail's attachments (at most `MAX_FILES` are kept), recording
        `sender_id` (the conversation) as a sender of each."""
        results: list[Kept] = []
        for attachment in attachments:
            size = len(attachment.data)
            reason = refusal(attachment)
            if not reason and sum(1 for r in results if r.reference) >= MAX_FILES:
                reason = "too many files"
            if reason:
                results.append(Kept(attachment.filename, attachment.content_type, size, "", reason))
                continue
            reference = self.files.put(
                attachment.data, attachment.filename, attachment.content_type, sender_id
            )
            results.append(Kept(attachment.filename, attachment.content_type, size, reference))
        return results


def default_store() -> AttachmentStore:
    """The store under the helpdesk settings' var directory."""
    from helpdesk.settings import get_settings

    return AttachmentStore(attachments_folder(get_settings().var_dir))
