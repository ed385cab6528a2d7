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
from pathlib import Path
from typing import Sequence

from connectors.email.parse import Attachment
from helpdesk.storage.attachments import ALLOWED_TYPES as ALLOWED_TYPES
from helpdesk.storage.attachments import MAX_BYTES as MAX_BYTES
from helpdesk.storage.attachments import REFERENCE_PREFIX as REFERENCE_PREFIX
from helpdesk.storage.attachments import AttachmentFiles, attachments_folder, refusal_of

#: The most attachments kept of one mail.
MAX_FILES = 5


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
    """Why an attachment is not kept ("" when it is; the rules of `refusal_of`)."""
    return refusal_of(len(attachment.data), attachment.content_type, attachment.filename)


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
