"""Citizens' data requests under UU PDP: a copy of one's data (Pasal 7) or its deletion
(Pasal 8), from the chat ("data saya", "hapus data saya") and answered in the desk.

- `open` records a verified request with its legal basis and time limit (the profile's
  `privacy` settings, `helpdesk.privacy.policy.RequestPolicy`): pending when the profile wants
  a supervisor's approval for its kind, else approved at once. Asked twice: one request.
- `copy` gathers everything the helpdesk holds on the citizen (every store of the data map,
  the conversations in Rasa's tracker store included) as JSON; `summary` says it in
  Indonesian. An access request approved at once is answered in the chat there and then.
- `carry_out` (run by the sweeper) carries out approved requests: an erasure once the
  citizen's conversation has been quiet a while (a deletion in the middle of a turn would be
  undone when Rasa saves the turn), deleting or anonymising every store but the exempt ones,
  Rasa's tracker store included; the request then keeps only its reference, kind, dates and
  decision, and the audit trail the record that it happened.

Verification is the caller's: the channel identity (WhatsApp number, Telegram chat) or an
e-mailed code (`EmailCodes`) for the web chat.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Callable

from helpdesk.privacy.policy import RequestPolicy
from helpdesk.rasa_bridge.events import read_events
from helpdesk.rasa_bridge.retention import TrackerRetention
from helpdesk.security.audit import AuditTrail, citizen_actor
from helpdesk.storage.attachments import AttachmentFiles
from helpdesk.storage.data_requests import (
    DataRequestRecord,
    DataRequestRepository,
    EmailVerificationRepository,
)
from helpdesk.storage.personal_data import PersonalDataRepository

logger = logging.getLogger(__name__)

#: The legal basis recorded with each kind of request.
LEGAL_BASIS = {
    "access": "UU 27/2022 tentang Pelindungan Data Pribadi, Pasal 7 (akses dan salinan data)",
    "erasure": "UU 27/2022 tentang Pelindungan Data Pribadi, Pasal 8 (penghapusan data)",
}
#: How long a conversation stays quiet before an approved erasure is carried out.
QUIET = timedelta(minutes=10)
#: E-mailed codes: digits, lifetime, attempts.
CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=15)
CODE_ATTEMPTS = 5
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
#: What each store is called in the citizen's summary.
STORE_LABELS = {
    "conversations": "pesan dalam riwayat percakapan",
    "ticket": "tiket",
    "handoff": "permintaan bicara dengan petugas",
    "handoff_message": "balasan petugas",
    "question_log": "pertanyaan yang Anda ajukan",
    "csat_rating": "penilaian layanan",
    "conversation": "sesi percakapan",
    "contact": "catatan kontak petugas",
    "flow_submission": "isian layanan terpandu",
    "broadcast_recipient": "pesan siaran WhatsApp ke nomor Anda",
    "broadcast_consent": "persetujuan menerima pesan siaran",
    "email_attachments": "lampiran e-mail",
}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def hash_code(sender_id: str, code: str) -> str:
    """The stored form of an e-mailed code (bound to the sender that asked for it)."""
    return hashlib.sha256(f"{sender_id}\x00{code.strip()}".encode()).hexdigest()


class EmailCodes:
    """Codes e-mailed to prove a web chat visitor holds an address."""

    def __init__(
        self,
        repository: EmailVerificationRepository,
        send: Callable[[EmailMessage], bool] | None,
        *,
        mail_from: str,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.repository = repository
        self._send = send
        self.mail_from = mail_from
        self.clock = clock

    @property
    def available(self) -> bool:
        """Whether codes can be sent (SMTP is configured)."""
        return self._send is not None

    def send(self, sender_id: str, email: str) -> bool:
        """E-mail a new code to `email` for this sender; False when it could not be sent."""
        if self._send is None:
            return False
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        now = self.clock()
        self.repository.issue(
            sender_id, email, hash_code(sender_id, code), now=now, expires_at=now + CODE_TTL
        )
        message = EmailMessage()
        message["Subject"] = "Kode verifikasi permintaan data pribadi"
        message["From"] = self.mail_from
        message["To"] = email
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.mail_from.rpartition("@")[2] or None)
        message.set_content(
            "Yth. Bapak/Ibu,\n\n"
            f"Kode verifikasi permintaan data pribadi Anda: {code}\n\n"
            f"Kode berlaku {int(CODE_TTL.total_seconds() // 60)} menit. Ketikkan kode ini di "
            "percakapan. Jika Anda tidak meminta kode ini, abaikan e-mail ini.\n"
        )
        return self._send(message)

    def check(self, sender_id: str, code: str) -> str | None | bool:
        """The verified address; False for a wrong code; None when no live code is left."""
        return self.repository.check(
            sender_id, hash_code(sender_id, code), now=self.clock(), max_attempts=CODE_ATTEMPTS
        )


@dataclass(frozen=True)
class Opened:
    """A request as `open` left it, and whether it was new."""

    request: DataRequestRecord
    created: bool


class DataRequests:
    """Open, answer, decide and carry out citizens' data requests."""

    def __init__(
        self,
        repository: DataRequestRepository,
        personal: PersonalDataRepository,
        tracker: TrackerRetention,
        audit: AuditTrail,
        policy: RequestPolicy,
        *,
        tz: Any,
        clock: Callable[[], datetime] = _utcnow,
        quiet: timedelta = QUIET,
        send_mail: Callable[[EmailMessage], bool] | None = None,
        mail_from: str = "",
        rng: random.Random | None = None,
        attachments: AttachmentFiles | None = None,
    ) -> None:
        self.repository = repository
        self.personal = personal
        self.tracker = tracker
        self.audit = audit
        self.policy = policy
        self.tz = tz
        self.clock = clock
        self.quiet = quiet
        self.send_mail = send_mail
        self.mail_from = mail_from
        self._rng = rng or random.SystemRandom()
        self.attachments = attachments

    # -- opening ------------------------------------------------------------------------------
    def _reference(self) -> str:
        day = self.clock().astimezone(self.tz).strftime("%Y%m%d")
        return f"PD-{day}-" + "".join(self._rng.choice(_LETTERS) for _ in range(6))

    def open(
        self,
        kind: str,
        sender_id: str,
        channel: str | None,
        *,
        verified_by: str,
        email: str | None = None,
    ) -> Opened:
        """Record a verified request (or find the sender's open one of the same kind)."""
        existing = self.repository.open_for(sender_id, kind)
        if existing is not None:
            return Opened(existing, False)
        status = "pending" if kind in self.policy.approval else "approved"
        now = self.clock()
        due = now + timedelta(days=self.policy.answer_within_days)
        for _ in range(5):
            try:
                record = self.repository.add(
                    reference=self._reference(),
                    kind=kind,
                    status=status,
                    sender_id=sender_id,
                    channel=channel,
                    verified_by=verified_by,
                    email=email,
                    legal_basis=LEGAL_BASIS[kind],
                    requested_at=now,
                    due_at=due,
                )
                break
            except Exception as exc:  # a reference taken already: draw another
                if "unique" not in str(exc).lower():
                    raise
        else:  # pragma: no cover - 24^6 references a day
            raise RuntimeError("no free data request reference")
        self.audit.record(
            citizen_actor(channel, sender_id),
            f"privacy.request.{kind}",
            target=f"data_request:{record.reference}",
            result=status,
            detail={"verified_by": verified_by, "legal_basis": record.legal_basis},
        )
        return Opened(record, True)

    # -- the copy -----------------------------------------------------------------------------
    def copy(self, sender_id: str, email: str | None = None) -> dict[str, Any]:
        """Everything held on the citizen: the helpdesk's stores and the conversations."""
        stores = self.personal.gather(sender_id, email)
        messages = []
        for event in self._events(sender_id):
            if event.type_name in ("user", "bot") and event.text:
                messages.append(
                    {
                        "at": event.at.isoformat(),
                        "from": "Anda" if event.type_name == "user" else "asisten",
                        "text": event.text,
                    }
                )
        return {
            "subject": {"sender_id": sender_id, "email": email},
            "generated_at": self.clock().isoformat(),
            "legal_basis": LEGAL_BASIS["access"],
            "conversations": messages,
            **stores,
            "email_attachments": (
                self.attachments.of_sender(sender_id, email) if self.attachments else []
            ),
        }

    def _events(self, sender_id: str) -> list[Any]:
        try:
            return read_events(self.tracker.engine, sender_id, limit=100_000)
        except Exception:  # no events table yet (Rasa not started): nothing recorded there
            logger.info("the tracker store could not be read for a data request")
            return []

    @staticmethod
    def counts(copy: dict[str, Any]) -> dict[str, int]:
        """How many records of each store a copy holds."""
        return {key: len(copy.get(key) or []) for key in STORE_LABELS}

    def summary(self, copy: dict[str, Any]) -> str:
        """The copy in a few Indonesian lines (the chat answer, the e-mail's body)."""
        counts = self.counts(copy)
        lines = [f"- {count} {STORE_LABELS[key]}" for key, count in counts.items() if count]
        if not lines:
            return "Kami tidak menyimpan data apa pun tentang Anda selain permintaan ini."
        tickets = [t["id"] for t in copy.get("ticket") or []]
        names = sorted({c["name"] for c in copy.get("contact") or [] if c.get("name")})
        extra = []
        if tickets:
            extra.append("Nomor tiket: " + ", ".join(tickets) + ".")
        if names:
            extra.append("Nama yang tercatat: " + ", ".join(names) + ".")
        return "\n".join(["Data yang kami simpan tentang Anda:", *lines, *extra])

    def answer_access(self, request: DataRequestRecord) -> dict[str, Any] | None:
        """Carry out an approved access request: the copy, the request closed with its
        counts, the copy e-mailed when the address is verified. None when it was closed
        meanwhile."""
        copy = self.copy(str(request.sender_id), request.email)
        done = self.repository.complete(request.id, self.counts(copy))
        if done is None:
            return None
        self.audit.record(
            citizen_actor(request.channel, str(request.sender_id)),
            "privacy.access.answered",
            target=f"data_request:{request.reference}",
            result="ok",
            detail=self.counts(copy),
        )
        if request.email and request.verified_by == "email" and self.send_mail is not None:
            self._mail_copy(request, copy)
        return copy

    def _mail_copy(self, request: DataRequestRecord, copy: dict[str, Any]) -> None:
        message = EmailMessage()
        message["Subject"] = f"Salinan data pribadi Anda ({request.reference})"
        message["From"] = self.mail_from
        message["To"] = str(request.email)
        message["Date"] = formatdate(localtime=False)
        message.set_content(
            "Yth. Bapak/Ibu,\n\n"
            f"Berikut jawaban atas permintaan {request.reference} ({LEGAL_BASIS['access']}).\n\n"
            + self.summary(copy)
            + "\n\nSalinan lengkap terlampir dalam format JSON.\n"
        )
        message.add_attachment(
            json.dumps(copy, ensure_ascii=False, indent=2).encode("utf-8"),
            maintype="application",
            subtype="json",
            filename=f"data-pribadi-{request.reference}.json",
        )
        assert self.send_mail is not None
        if not self.send_mail(message):
            logger.error("the copy of data request %s could not be e-mailed", request.reference)

    # -- deciding and carrying out ------------------------------------------------------------
    def decide(
        self, request_id: int, *, approve: bool, by: str, note: str | None = None
    ) -> DataRequestRecord | None:
        """A supervisor approves or refuses a pending request (refusing needs a reason)."""
        if not approve and not (note or "").strip():
            raise ValueError("a refusal needs its reason")
        return self.repository.decide(
            request_id, status="approved" if approve else "rejected", by=by, note=note
        )

    def _quiet(self, sender_id: str) -> bool:
        events = self._events(sender_id)
        if not events:
            return True
        return self.clock() - events[-1].at >= self.quiet

    def erase(self, request: DataRequestRecord) -> dict[str, int] | None:
        """Carry out an approved erasure now: every store but the exempt ones, the tracker
        store included; the request keeps only its reference, kind, dates and decision."""
        sender = str(request.sender_id)
        done = self.personal.erase(sender, request.email, exempt=self.policy.erasure_exempt)
        if "tracker_events" not in self.policy.erasure_exempt:
            done["tracker_events"] = self.tracker.forget_sender(sender)
        if self.attachments is not None and "email_attachments" not in self.policy.erasure_exempt:
            done["email_attachments"] = self.attachments.forget_sender(sender, request.email)
        done["data_request"] = self.repository.forget_sender(sender, except_id=request.id)
        for key in sorted(self.policy.erasure_exempt):
            done[f"kept:{key}"] = 0
        if self.repository.complete(request.id, done, forget_requester=True) is None:
            return None
        self.audit.record(
            citizen_actor(request.channel, sender),
            "privacy.erasure.done",
            target=f"data_request:{request.reference}",
            result="ok",
            detail=done,
        )
        logger.info("data request %s: erasure carried out", request.reference)
        return done

    def carry_out(self) -> int:
        """Carry out approved requests (access: answered; erasure: once the conversation is
        quiet); how many were carried out."""
        count = 0
        for request in self.repository.approved("access"):
            if self.answer_access(request) is not None:
                count += 1
        for request in self.repository.approved("erasure"):
            quiet = request.sender_id and self._quiet(request.sender_id)
            if quiet and self.erase(request) is not None:
                count += 1
        return count
