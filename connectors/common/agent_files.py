"""An agent's file on the output channels.

The desk worker sends an agent's reply with a file as a bot message whose metadata holds the
file's reference under `ATTACHMENT_KEY` (`helpdesk.handoff.agent_files`); Rasa merges the
metadata into the message each output channel gets. The channels of `AgentRepliesOnce` read
the bytes from the helpdesk file store (`load_agent_file`; the Rasa server and the desk share
the var directory) and send them the way their platform allows (`send_agent_file`): WhatsApp,
Messenger and Telegram upload the file, e-mail attaches it. A channel that cannot carry a file
without a public address (the web chat, Instagram) sends the text with `FILE_NOTICE`, so the
citizen knows a file was meant for them and how to get it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Mapping

from helpdesk.handoff.agent_files import ATTACHMENT_KEY, AgentFile, read_agent_file

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.storage.attachments import AttachmentFiles

__all__ = [
    "ATTACHMENT_KEY",
    "FILE_FAILED_NOTICE",
    "FILE_NOTICE",
    "AgentFile",
    "file_name_of",
    "load_agent_file",
    "with_notice",
    "without_file",
]

#: What the citizen reads where the channel cannot carry the file (`{filename}`: its name).
FILE_NOTICE = (
    "Petugas juga mengirimkan berkas “{filename}”, tetapi berkas tidak dapat ditampilkan di "
    "kanal ini. Bila Anda memerlukannya, silakan sampaikan alamat e-mail Anda kepada petugas "
    "agar berkas dikirim melalui e-mail."
)
#: What the citizen reads when the platform did not take the file.
FILE_FAILED_NOTICE = (
    "Petugas juga mengirimkan berkas “{filename}”, tetapi berkas belum berhasil terkirim. "
    "Bila Anda memerlukannya, silakan sampaikan alamat e-mail Anda kepada petugas agar "
    "berkas dikirim melalui e-mail."
)


def with_notice(text: Any, filename: str, notice: str = FILE_NOTICE) -> str:
    """The reply's text (if any) followed by `notice` for the file `filename`."""
    line = notice.format(filename=filename or "lampiran")
    body = str(text or "").strip()
    return f"{body}\n\n{line}" if body else line


def without_file(message: Mapping[str, Any]) -> dict[str, Any]:
    """The message without its file's reference."""
    return {key: value for key, value in message.items() if key != ATTACHMENT_KEY}


def file_name_of(value: Any) -> str:
    """The name of the file a message's `ATTACHMENT_KEY` value refers to."""
    name = value.get("filename") if isinstance(value, Mapping) else None
    return str(name or "lampiran")


async def load_agent_file(value: Any, files: "AttachmentFiles | None" = None) -> AgentFile | None:
    """The file a message's `ATTACHMENT_KEY` value refers to, read off the event loop from
    `files` (default: the helpdesk services' file store); None when it is gone."""
    if files is None:
        from helpdesk.services import get_services

        files = get_services().attachment_files
    return await asyncio.to_thread(read_agent_file, files, value)
