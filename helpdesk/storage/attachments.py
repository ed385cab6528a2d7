"""Files citizens sent (e-mail attachments, and channels' media agents opened on the desk),
kept under a folder of the var directory, checked first by the one set of rules
(`refusal_of`: size and type).

A file is stored once under (the first 40 hex digits of) its SHA-256, with a JSON sidecar
`<digest>.json`: its name, type and size, which senders sent it (`senders`, a list of sender
ids, since identical files are stored once) and when each last did (`received_at`, ISO 8601,
UTC). Its reference is "email-att:<digest>". A channel's media (a WhatsApp media id) is
found again by its key: `media/<hash of "whatsapp:<media id>">` holds its digest.

They are personal data (store `email_attachments` of `helpdesk.privacy.policy.DATA_MAP`):
`of_sender` lists a citizen's files for a copy, `forget_sender` takes a citizen off every file
(deleting a file no other sender sent), `due`/`purge` delete the files whose newest sending
is older than a cut-off (the retention job). Plain files, no database: a lock file keeps
processes from updating one sidecar at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any, Callable, Iterator

try:  # POSIX; elsewhere one process at a time is assumed
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

#: What a reference starts with.
REFERENCE_PREFIX = "email-att:"
#: The hex digits of the SHA-256 a file is named by.
DIGEST_LENGTH = 40
#: The sub-folder that maps a channel's media (by the hash of its key) to a stored file.
MEDIA_INDEX_FOLDER = "media"

#: The largest file kept.
MAX_BYTES = 10 * 1024 * 1024

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


def refusal_of(size: int, content_type: str, filename: str | None = None) -> str:
    """Why a file citizens sent is not kept ("" when it is): "too large" over `MAX_BYTES`,
    "type not accepted" for a type outside `ALLOWED_TYPES` or a name whose extension does not
    fit its type. The one version of the rules, for every channel."""
    if size > MAX_BYTES:
        return "too large"
    extensions = ALLOWED_TYPES.get((content_type or "").split(";")[0].strip().lower())
    if extensions is None:
        return "type not accepted"
    suffix = PurePath(filename).suffix.lower() if filename else ""
    if suffix and suffix not in extensions:
        return "type not accepted"
    return ""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _address_of(sender_id: str) -> str:
    """The address part of an e-mail conversation id ("<address>#<hash>")."""
    return sender_id.partition("#")[0].lower()


class AttachmentFiles:
    """Content-addressed files with their senders, under `folder` (made on first use)."""

    def __init__(self, folder: Path, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.folder = Path(folder)
        self.clock = clock

    # -- paths --------------------------------------------------------------------------------
    def path_of(self, reference: str) -> Path | None:
        """The file of a reference (None when it is not one of ours or is gone)."""
        if not reference.startswith(REFERENCE_PREFIX):
            return None
        digest = reference[len(REFERENCE_PREFIX) :]
        if not digest.isalnum():
            return None
        path = self.folder / digest
        return path if path.is_file() else None

    def describe(self, reference: str) -> dict[str, Any] | None:
        """The name, type and size of a stored file (None when it is not stored)."""
        path = self.path_of(reference)
        if path is None:
            return None
        data = self._read(path.with_suffix(".json"))
        return {key: data.get(key) for key in ("filename", "type", "size")}

    def _media_index(self, media_key: str) -> Path:
        name = hashlib.sha256(media_key.encode("utf-8")).hexdigest()[:DIGEST_LENGTH]
        return self.folder / MEDIA_INDEX_FOLDER / name

    def reference_of_media(self, media_key: str) -> str | None:
        """The reference of a channel's media already fetched into the store (by its key,
        "whatsapp:<media id>"), None when it was not or its file is gone (erased, purged)."""
        try:
            digest = self._media_index(media_key).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        reference = REFERENCE_PREFIX + digest
        return reference if self.path_of(reference) is not None else None

    def _sidecars(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob("*.json") if p.stem.isalnum())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _read(sidecar: Path) -> dict[str, Any]:
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _write(sidecar: Path, data: dict[str, Any]) -> None:
        temporary = sidecar.parent / f"{sidecar.name}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, sidecar)

    @staticmethod
    def _senders(data: dict[str, Any]) -> list[str]:
        senders = data.get("senders")
        return [s for s in senders if isinstance(s, str)] if isinstance(senders, list) else []

    def _newest(self, data: dict[str, Any], sidecar: Path) -> datetime:
        """When the file was last sent (the file's time for a sidecar without dates)."""
        received = data.get("received_at")
        stamps = [_parse(v) for v in received.values()] if isinstance(received, dict) else []
        known = [at for at in stamps if at is not None]
        if known:
            return max(known)
        try:
            return datetime.fromtimestamp(sidecar.stat().st_mtime, timezone.utc)
        except OSError:
            return self.clock()

    def _delete(self, sidecar: Path) -> None:
        for path in (sidecar.with_suffix(""), sidecar):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # -- storing ------------------------------------------------------------------------------
    def put(
        self,
        data: bytes,
        filename: str,
        content_type: str,
        sender_id: str | None = None,
        *,
        media_key: str | None = None,
    ) -> str:
        """Store a file (once) and record who sent it now; its reference. `media_key` (a
        channel's media, "whatsapp:<media id>") finds it again (`reference_of_media`)."""
        digest = hashlib.sha256(data).hexdigest()[:DIGEST_LENGTH]
        path = self.folder / digest
        sidecar = path.with_suffix(".json")
        with self._locked():
            if not path.exists():
                temporary = path.with_suffix(f".{os.getpid()}.tmp")
                temporary.write_bytes(data)
                os.replace(temporary, path)
            meta = self._read(sidecar) or {
                "filename": filename,
                "type": content_type,
                "size": len(data),
            }
            senders = self._senders(meta)
            received = meta.get("received_at")
            received = dict(received) if isinstance(received, dict) else {}
            if sender_id:
                if sender_id not in senders:
                    senders.append(sender_id)
                received[sender_id] = self.clock().astimezone(timezone.utc).isoformat()
            meta["senders"] = senders
            meta["received_at"] = received
            self._write(sidecar, meta)
            if media_key:
                index = self._media_index(media_key)
                index.parent.mkdir(parents=True, exist_ok=True)
                index.write_text(digest, encoding="ascii")
        return REFERENCE_PREFIX + digest

    # -- a citizen's files --------------------------------------------------------------------
    def _matches(self, sender_id: str, email: str | None) -> Callable[[str], bool]:
        address = (email or "").strip().lower()

        def match(candidate: str) -> bool:
            if candidate == sender_id:
                return True
            return bool(address) and "#" in candidate and _address_of(candidate) == address

        return match

    def of_sender(self, sender_id: str, email: str | None = None) -> list[dict[str, Any]]:
        """The files a citizen sent (the sender id, or any e-mail conversation of `email`):
        reference, name, type, size and when they sent it, never the content."""
        match = self._matches(sender_id, email)
        files = []
        for sidecar in self._sidecars():
            data = self._read(sidecar)
            mine = [s for s in self._senders(data) if match(s)]
            if not mine:
                continue
            stamps = data.get("received_at")
            received: dict[str, Any] = stamps if isinstance(stamps, dict) else {}
            dates = sorted(str(received.get(s)) for s in mine if received.get(s))
            files.append(
                {
                    "id": REFERENCE_PREFIX + sidecar.stem,
                    "filename": data.get("filename"),
                    "type": data.get("type"),
                    "size": data.get("size"),
                    "received_at": dates[-1] if dates else None,
                }
            )
        return sorted(files, key=lambda f: (f["received_at"] or "", f["id"]))

    def forget_sender(self, sender_id: str, email: str | None = None) -> int:
        """Take a citizen off every file they sent, deleting the files nobody else sent; how
        many of their files were dealt with."""
        match = self._matches(sender_id, email)
        count = 0
        if not self.folder.is_dir():
            return 0
        with self._locked():
            for sidecar in self._sidecars():
                data = self._read(sidecar)
                senders = self._senders(data)
                left = [s for s in senders if not match(s)]
                if len(left) == len(senders):
                    continue
                count += 1
                if not left:
                    self._delete(sidecar)
                    continue
                received = data.get("received_at")
                received = received if isinstance(received, dict) else {}
                data["senders"] = left
                data["received_at"] = {k: v for k, v in received.items() if k in left}
                self._write(sidecar, data)
        return count

    # -- retention ----------------------------------------------------------------------------
    def _past(self, cutoff: datetime) -> list[Path]:
        return [s for s in self._sidecars() if self._newest(self._read(s), s) < cutoff]

    def due(self, cutoff: datetime) -> int:
        """How many files were last sent before `cutoff`."""
        return len(self._past(cutoff))

    def purge(self, cutoff: datetime, *, limit: int | None = None) -> int:
        """Delete (at most `limit`) files last sent before `cutoff`; how many."""
        if not self.folder.is_dir():
            return 0
        with self._locked():
            past = self._past(cutoff)[:limit] if limit is not None else self._past(cutoff)
            for sidecar in past:
                self._delete(sidecar)
        return len(past)


def attachments_folder(var_dir: Path | str) -> Path:
    """Where the e-mail channel keeps attachments under a var directory."""
    return Path(var_dir) / "email_attachments"
