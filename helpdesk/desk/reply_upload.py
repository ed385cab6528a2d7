"""The file an agent attaches to a reply on the conversation page (`POST
/conversations/<id>/reply`, multipart, field `file`).

One file per reply, checked by the rules of `helpdesk.handoff.agent_files.check_upload` (the
types and the size every channel's files follow) and kept in the helpdesk file store with the
citizen recorded as its party (`store_agent_file`). A refusal is a polite Indonesian message;
the reply is then not stored and the page keeps what the agent typed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import unquote

from sanic import Request

from helpdesk.handoff.agent_files import FileRefused, StoredAgentFile, store_agent_file
from helpdesk.storage.attachments import ALLOWED_TYPES, MAX_BYTES, AttachmentFiles
from helpdesk.storage.enums import HandoffStatus
from helpdesk.storage.handoffs import HandoffRecord

#: The form field of the file.
FILE_FIELD = "file"
#: The extensions the file input offers (`accept`), from the kept types.
ACCEPT = ",".join(sorted({ext for exts in ALLOWED_TYPES.values() for ext in exts}))
#: Channels that deliver the file itself; on the others the citizen is told a file was sent
#: and how to ask for it (`connectors.common.agent_files`).
FILE_CHANNELS = frozenset({"whatsapp", "messenger", "telegram", "email"})

_LIMIT = f"{MAX_BYTES // (1024 * 1024)} MB"
MSG_FILE_TOO_LARGE = (
    f"Berkas terlalu besar (maksimal {_LIMIT}). Silakan pilih berkas yang lebih kecil; "
    "balasan belum dikirim."
)
MSG_FILE_TYPE = (
    "Jenis berkas ini tidak dapat dikirim. Silakan lampirkan gambar (JPG, PNG, GIF, WEBP), "
    "PDF, dokumen Word atau Excel, atau berkas teks (TXT, CSV); balasan belum dikirim."
)
MSG_FILE_EMPTY = "Berkas yang dipilih kosong. Silakan pilih berkas lain; balasan belum dikirim."
MSG_FILE_MANY = "Mohon lampirkan satu berkas saja untuk setiap balasan."
MSG_FILE_NOT_HELD = "Hanya petugas yang menangani percakapan ini yang dapat mengirim berkas."
#: The hint under the file input, by whether the conversation's channel delivers files.
HINT = f"Satu berkas: gambar, PDF, Word, Excel, TXT atau CSV, maksimal {_LIMIT}."
HINT_NO_FILES = (
    "Di kanal ini berkas tidak dapat dikirim langsung: warga menerima balasan Anda dengan "
    "keterangan bahwa ada berkas yang dapat dimintakan melalui e-mail."
)

_MESSAGES = {
    "too large": MSG_FILE_TOO_LARGE,
    "type not accepted": MSG_FILE_TYPE,
    "empty": MSG_FILE_EMPTY,
    "many": MSG_FILE_MANY,
}


@dataclass(frozen=True)
class Upload:
    """The file as the browser sent it."""

    data: bytes
    filename: str


def refusal_message(reason: str) -> str:
    """The agent's message for a refused file (`FileRefused.reason`)."""
    return _MESSAGES.get(reason, MSG_FILE_TYPE)


def upload_of(request: Request) -> Upload | None:
    """The attached file (None when none was chosen: browsers send an empty part then).

    Raises:
        FileRefused: "many" for more than one file.
    """
    files = request.files.getlist(FILE_FIELD) if request.files else None
    chosen = [f for f in files or [] if f.name or f.body]
    if not chosen:
        return None
    if len(chosen) > 1:
        raise FileRefused("many")
    # Browsers percent-encode a quote or a line break in the name (some clients more).
    return Upload(bytes(chosen[0].body or b""), unquote(chosen[0].name or ""))


def file_hint(channel: str | None) -> str:
    """What the page says under the file input for a conversation on `channel`."""
    return HINT if channel in FILE_CHANNELS else f"{HINT} {HINT_NO_FILES}"


async def attached_file(
    request: Request, handoff: HandoffRecord, agent_id: int, files: AttachmentFiles
) -> tuple[StoredAgentFile | None, str | None]:
    """The file attached to a reply, checked and stored with the handoff's citizen as its
    party (None when none was attached), or why it was refused (None when it was not). A file
    is stored only for the agent who holds the conversation."""
    try:
        upload = upload_of(request)
    except FileRefused as refused:
        return None, refusal_message(refused.reason)
    if upload is None:
        return None, None
    if handoff.status != HandoffStatus.ASSIGNED or handoff.agent_id != agent_id:
        return None, MSG_FILE_NOT_HELD
    try:
        stored = await asyncio.to_thread(
            store_agent_file, files, upload.data, upload.filename, handoff.sender_id
        )
    except FileRefused as refused:
        return None, refusal_message(refused.reason)
    return stored, None
