"""The assistant's answers as one reply mail (pure): the body with numbered choices, and
the headers that keep the thread and stop auto-responders."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Mapping, Sequence

from connectors.common import choices
from connectors.email.parse import bare_subject
from helpdesk.handoff.agent_files import AgentFile

#: The text above the choices (Indonesian, as everything the citizen reads).
CHOICES_PROMPT = "Silakan balas e-mail ini dengan nomor pilihan Anda:"

#: The line under every mail.
FOOTER = "Balas e-mail ini untuk melanjutkan percakapan dengan asisten virtual helpdesk."

#: The line that names a file attached to the mail.
ATTACHED_LABEL = "Berkas terlampir"

#: The subject of a mail whose thread has none.
DEFAULT_SUBJECT = "Helpdesk"

#: The most references a reply carries (the root and the latest ones).
REFERENCES_LIMIT = 20


@dataclass
class Part:
    """One answer of the assistant: a text, numbered choices and image links; an agent's
    reply may carry a file (attached to the mail)."""

    text: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    files: list[AgentFile] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.text or self.choices or self.images or self.files)


def part_of(message: Mapping[str, Any]) -> Part:
    """A Rasa bot message (`text`, `buttons`/`quick_replies`, `image`, `attachment`,
    `custom`) as a `Part`."""
    part = Part(text=str(message.get("text") or "").strip())
    buttons = message.get("buttons") or message.get("quick_replies") or []
    if isinstance(buttons, Sequence) and not isinstance(buttons, (str, bytes)):
        part.choices = choices(buttons)
    for key in ("image", "attachment"):
        value = message.get(key)
        if isinstance(value, str) and value.strip():
            part.images.append(value.strip())
    custom = message.get("custom")
    if custom and not part.text:
        custom_text = custom.get("text") if isinstance(custom, Mapping) else None
        part.text = str(custom_text or json.dumps(custom, ensure_ascii=False))
    return part


def render_body(parts: Sequence[Part]) -> tuple[str, list[str]]:
    """The plain-text body of a reply and the payloads of its numbered choices.

    The choices of all parts are numbered on from 1 across the mail (a turn rarely has more
    than one set), each set under `CHOICES_PROMPT`; images are given as links.

    Returns:
        (body, payloads): payloads[n - 1] is what the number n stands for.
    """
    blocks: list[str] = []
    payloads: list[str] = []
    for part in parts:
        lines: list[str] = []
        if part.text:
            lines.append(part.text)
        for url in part.images:
            lines.append(f"Gambar: {url}")
        for attached in part.files:
            lines.append(f"{ATTACHED_LABEL}: {attached.filename}")
        if part.choices:
            numbered = []
            for title, payload in part.choices:
                payloads.append(payload)
                numbered.append(f"{len(payloads)}. {title}")
            lines.append(CHOICES_PROMPT + "\n" + "\n".join(numbered))
        if lines:
            blocks.append("\n\n".join(lines))
    body = "\n\n".join(blocks).strip()
    return f"{body}\n\n-- \n{FOOTER}\n" if body else "", payloads


def reply_subject(subject: str) -> str:
    """ "Re: <subject>" (one "Re:", whatever prefixes it had)."""
    return f"Re: {bare_subject(subject) or DEFAULT_SUBJECT}"


def reply_references(references: Sequence[str], in_reply_to: str) -> list[str]:
    """The References of a reply: the thread's, then the answered mail, at most
    `REFERENCES_LIMIT` (the root kept first)."""
    chain = [ref for ref in references if ref != in_reply_to]
    if in_reply_to:
        chain.append(in_reply_to)
    if len(chain) > REFERENCES_LIMIT:
        chain = [chain[0], *chain[-(REFERENCES_LIMIT - 1) :]]
    return chain


def domain_of(address: str) -> str:
    """The domain of an address ("" when it has none)."""
    return address.rpartition("@")[2] if "@" in address else ""


def reply_mail(
    body: str,
    *,
    sender: str,
    to: str,
    subject: str,
    in_reply_to: str,
    references: Sequence[str],
    sender_name: str = "",
) -> EmailMessage:
    """One reply mail in a thread, marked as automatic (`Auto-Submitted: auto-replied`).

    Args:
        body: The plain-text body (`render_body`).
        sender: Our address (From).
        to: The citizen's address.
        subject: The subject of the mail answered (made "Re: ...").
        in_reply_to: The Message-ID answered ("" for none).
        references: The thread's Message-IDs, oldest first.
        sender_name: Our display name.
    """
    message = EmailMessage()
    message["From"] = f"{sender_name} <{sender}>" if sender_name else sender
    message["To"] = to
    message["Subject"] = reply_subject(subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=domain_of(sender) or None)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    chain = reply_references(references, in_reply_to)
    if chain:
        message["References"] = " ".join(chain)
    message["Auto-Submitted"] = "auto-replied"
    # Exchange and Outlook send no out-of-office or delivery notices back to this mail.
    message["X-Auto-Response-Suppress"] = "All"
    message["Content-Language"] = "id"
    message.set_content(body, charset="utf-8")
    return message


def attach_files(message: EmailMessage, files: Sequence[AgentFile]) -> None:
    """Attach `files` to `message` (which becomes multipart/mixed, its text first)."""
    for attached in files:
        maintype, _, subtype = attached.content_type.partition("/")
        message.add_attachment(
            attached.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attached.filename,
        )
