"""`BroadcastService`: what supervisors (the desk) and citizens (BERHENTI/STOP) do with
broadcasts; the sender (`helpdesk.broadcasts.sender`) does the sending.

A broadcast is made from an approved template of the WhatsApp registry and a CSV upload
(`helpdesk.broadcasts.recipients`): every row is checked against the template before anything
is stored, so what the preview shows is what goes out. Uploading records the listed numbers as
opted in (with the consent note the supervisor gives); a number that opted out is never sent
to, whatever later uploads say, until it opts in again itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from helpdesk.broadcasts.recipients import Problem, RecipientFileError, read_recipients
from helpdesk.conversation.message_templates import (
    MessageTemplate,
    ParameterError,
    TemplateRegistry,
)
from helpdesk.storage.broadcasts import BroadcastRecord, BroadcastRepository, RecipientRecord
from helpdesk.storage.enums import BroadcastStatus, RecipientStatus

#: Recipients shown in a preview.
PREVIEW_COUNT = 3
#: Longest broadcast name.
MAX_NAME = 120
#: Indonesian labels of the recipient statuses (the desk and the CSV export).
RECIPIENT_LABELS = {
    RecipientStatus.PENDING: "menunggu",
    RecipientStatus.SENDING: "sedang dikirim",
    RecipientStatus.SENT: "terkirim",
    RecipientStatus.DELIVERED: "diterima",
    RecipientStatus.READ: "dibaca",
    RecipientStatus.FAILED: "gagal",
    RecipientStatus.OPTED_OUT: "berhenti berlangganan",
}
BROADCAST_LABELS = {
    BroadcastStatus.DRAFT: "draf",
    BroadcastStatus.SCHEDULED: "terjadwal",
    BroadcastStatus.SENDING: "sedang dikirim",
    BroadcastStatus.PAUSED: "dijeda",
    BroadcastStatus.DONE: "selesai",
    BroadcastStatus.CANCELLED: "dibatalkan",
}
#: Columns of the CSV export.
EXPORT_COLUMNS = (
    "phone",
    "name",
    "status",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "error",
)


class BroadcastError(ValueError):
    """A supervisor's request cannot be done (the message is Indonesian, for the desk)."""


@dataclass(frozen=True)
class Upload:
    """A broadcast made from an upload, and the rows left out of it."""

    broadcast: BroadcastRecord
    recipients: int
    problems: list[Problem]
    problem_count: int
    duplicates: int


@dataclass(frozen=True)
class Preview:
    """What the first recipients will read, and what the supervisor should know."""

    messages: list[tuple[str, str]]  # (masked number, text)
    recipients: int
    opted_out: int
    warnings: list[str]


def mask_number(phone: str) -> str:
    """A number as the desk lists it in previews: 6281******7890."""
    return phone[:4] + "*" * max(len(phone) - 8, 0) + phone[-4:] if len(phone) > 8 else phone


def _template_check(template: MessageTemplate) -> Callable[[Mapping[str, str]], str | None]:
    def check(values: Mapping[str, str]) -> str | None:
        try:
            template.parameters(values)
        except ParameterError as exc:
            text = str(exc).split(": ", 1)[-1]
            return f"nilai tidak sesuai templat ({text})"
        return None

    return check


class BroadcastService:
    """Supervisors' broadcasts and citizens' consent (see the module docstring)."""

    def __init__(
        self,
        repository: BroadcastRepository,
        templates: Callable[[], TemplateRegistry],
        *,
        daily_limit: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.repository = repository
        self.templates = templates
        self.daily_limit = daily_limit
        self.clock = clock
        self.on_change = on_change

    def template(self, name: str) -> MessageTemplate:
        template = self.templates().get(name)
        if template is None:
            raise BroadcastError("Templat tidak ditemukan di registri templat WhatsApp.")
        return template

    def create(
        self,
        *,
        name: str,
        template_name: str,
        data: bytes,
        consent_note: str,
        created_by: str,
    ) -> Upload:
        """A draft from a CSV upload.

        Raises:
            BroadcastError: No name, no consent note, an unknown template, an unreadable file
                or a file with no sendable row.
        """
        name = " ".join(name.split())[:MAX_NAME]
        consent_note = consent_note.strip()
        if not name:
            raise BroadcastError("Beri nama siaran.")
        if not consent_note:
            raise BroadcastError(
                "Jelaskan bagaimana penerima menyatakan bersedia menerima pesan (persetujuan)."
            )
        template = self.template(template_name)
        try:
            listed = read_recipients(data, template.variables, _template_check(template))
        except RecipientFileError as exc:
            raise BroadcastError(str(exc)) from exc
        if not listed.recipients:
            raise BroadcastError("Tidak ada penerima yang dapat dikirimi pesan dalam berkas ini.")
        broadcast = self.repository.create(
            name=name,
            template_name=template.name,
            template_language=template.language,
            created_by=created_by,
            consent_note=consent_note,
            recipients=listed.recipients,
            now=self.clock(),
        )
        return Upload(
            broadcast=broadcast,
            recipients=len(listed.recipients),
            problems=listed.problems,
            problem_count=listed.problem_count,
            duplicates=listed.duplicates,
        )

    def get(self, broadcast_id: int) -> BroadcastRecord:
        broadcast = self.repository.get(broadcast_id)
        if broadcast is None:
            raise BroadcastError("Siaran tidak ditemukan.")
        return broadcast

    def preview(self, broadcast_id: int) -> Preview:
        """The first recipients' messages, and warnings (opted-out numbers, the messaging
        limit of the number, a template no longer registered)."""
        broadcast = self.get(broadcast_id)
        totals = self.repository.totals(broadcast_id)
        recipients = sum(totals.values())
        warnings: list[str] = []
        messages: list[tuple[str, str]] = []
        template = self.templates().get(broadcast.template_name)
        if template is None:
            warnings.append(
                "Templat siaran ini tidak ada lagi di registri: siaran tidak dapat dikirim."
            )
        else:
            for recipient in self.repository.recipients(broadcast_id, limit=PREVIEW_COUNT):
                values = {**recipient.variables, "name": recipient.name}
                messages.append((mask_number(recipient.phone), template.preview(values)))
        opted_out = self.repository.opted_out_count(broadcast_id)
        if opted_out:
            warnings.append(
                f"{opted_out} nomor telah berhenti berlangganan dan tidak akan dikirimi pesan."
            )
        sent_today = self.repository.numbers_sent_since(self.clock() - timedelta(days=1))
        if sent_today + recipients - opted_out > self.daily_limit:
            warnings.append(
                f"Batas pesan nomor WhatsApp Anda {self.daily_limit} nomor per 24 jam; sudah "
                f"{sent_today} terpakai. Sebagian pesan dapat ditolak WhatsApp: bagi siaran "
                "ini atau jadwalkan pada hari berikutnya."
            )
        return Preview(messages, recipients, opted_out, warnings)

    def send_now(self, broadcast_id: int) -> None:
        self._move(
            broadcast_id,
            BroadcastStatus.SENDING,
            (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED),
            "Siaran ini tidak dapat dikirim lagi.",
        )

    def schedule(self, broadcast_id: int, at: datetime) -> None:
        """Send at `at` (aware, in the future)."""
        if at.utcoffset() is None:
            raise BroadcastError("Waktu jadwal tidak valid.")
        if at <= self.clock():
            raise BroadcastError("Waktu jadwal harus di masa mendatang.")
        self._move(
            broadcast_id,
            BroadcastStatus.SCHEDULED,
            (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED),
            "Hanya draf atau siaran terjadwal yang dapat dijadwalkan.",
            scheduled_at=at,
        )

    def pause(self, broadcast_id: int) -> None:
        self._move(
            broadcast_id,
            BroadcastStatus.PAUSED,
            (BroadcastStatus.SENDING, BroadcastStatus.SCHEDULED),
            "Hanya siaran yang sedang dikirim atau terjadwal yang dapat dijeda.",
            note="dijeda oleh supervisor",
        )

    def resume(self, broadcast_id: int) -> None:
        self._move(
            broadcast_id,
            BroadcastStatus.SENDING,
            (BroadcastStatus.PAUSED,),
            "Hanya siaran yang dijeda yang dapat dilanjutkan.",
        )

    def cancel(self, broadcast_id: int) -> None:
        self._move(
            broadcast_id,
            BroadcastStatus.CANCELLED,
            (
                BroadcastStatus.DRAFT,
                BroadcastStatus.SCHEDULED,
                BroadcastStatus.SENDING,
                BroadcastStatus.PAUSED,
            ),
            "Siaran ini sudah selesai atau dibatalkan.",
        )

    def _move(
        self,
        broadcast_id: int,
        status: BroadcastStatus,
        allowed: tuple[BroadcastStatus, ...],
        refusal: str,
        *,
        scheduled_at: datetime | None = None,
        note: str | None = None,
    ) -> None:
        self.get(broadcast_id)
        if not self.repository.set_status(
            broadcast_id,
            status,
            allowed_from=allowed,
            scheduled_at=scheduled_at,
            note=note,
            now=self.clock(),
        ):
            raise BroadcastError(refusal)
        if self.on_change is not None:
            self.on_change()

    def latest(self, limit: int = 100) -> list[BroadcastRecord]:
        """The latest broadcasts first."""
        return self.repository.latest(limit)

    def totals(self, broadcast_id: int) -> dict[str, int]:
        return self.repository.totals(broadcast_id)

    def recipients(
        self, broadcast_id: int, *, status: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[RecipientRecord]:
        return self.repository.recipients(
            broadcast_id, status=status or None, offset=offset, limit=limit
        )

    def export_csv(self, broadcast_id: int) -> Iterator[str]:
        """The recipients and their statuses as CSV text, line by line (UTF-8 with the
        header `EXPORT_COLUMNS`; times in ISO 8601 UTC)."""
        self.get(broadcast_id)
        buffer = io.StringIO()
        writer = csv.writer(buffer)

        def line(values: list[str]) -> str:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(values)
            return buffer.getvalue()

        def when(value: datetime | None) -> str:
            return value.astimezone(timezone.utc).isoformat() if value else ""

        yield line(list(EXPORT_COLUMNS))
        for r in self.repository.iter_recipients(broadcast_id):
            yield line(
                [
                    r.phone,
                    r.name,
                    RECIPIENT_LABELS.get(RecipientStatus(r.status), r.status),
                    when(r.sent_at),
                    when(r.delivered_at),
                    when(r.read_at),
                    when(r.failed_at),
                    r.error or "",
                ]
            )

    # ----------------------------------------------------------------- consent

    def opt_out(self, phone: str, channel: str) -> bool:
        """The citizen sent BERHENTI/STOP (True when this changed their consent)."""
        return self.repository.opt_out(phone, f"pesan {channel}", self.clock())

    def opt_in(self, phone: str, channel: str) -> bool:
        """The citizen sent MULAI/START (True when they had opted out)."""
        return self.repository.opt_in(phone, f"pesan {channel}", self.clock())

    def opted_out(self, phone: str) -> bool:
        consent = self.repository.consent(phone)
        return consent is not None and consent.opted_out
