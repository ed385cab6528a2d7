"""The files citizens sent (e-mail attachments): stored once with every sender and when they
sent it, listed for a copy, taken off a sender on erasure (deleted with the last one), and
deleted by the retention job once nobody sent them within the period."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from helpdesk.privacy.policy import DATA_MAP, Disposal, RetentionPolicy
from helpdesk.storage.attachments import REFERENCE_PREFIX, AttachmentFiles

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
ANI = "ani@contoh.id#0123456789ab"
BUDI = "budi@contoh.id#ba9876543210"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def sidecar(files: AttachmentFiles, reference: str) -> dict:
    digest = reference[len(REFERENCE_PREFIX) :]
    return json.loads((files.folder / f"{digest}.json").read_text(encoding="utf-8"))


def test_a_file_is_stored_once_with_every_sender_and_when(tmp_path: Path) -> None:
    clock = Clock()
    files = AttachmentFiles(tmp_path / "att", clock=clock)
    first = files.put(b"%PDF ktp", "ktp.pdf", "application/pdf", ANI)
    clock.now = NOW + timedelta(hours=2)
    again = files.put(b"%PDF ktp", "ktp-lagi.pdf", "application/pdf", BUDI)

    assert first == again and first.startswith(REFERENCE_PREFIX)
    data = sidecar(files, first)
    assert data["senders"] == [ANI, BUDI]
    assert data["received_at"] == {
        ANI: NOW.isoformat(),
        BUDI: (NOW + timedelta(hours=2)).isoformat(),
    }
    assert (data["filename"], data["type"], data["size"]) == ("ktp.pdf", "application/pdf", 8)
    assert len(list(files.folder.glob("*.json"))) == 1


def test_the_copy_lists_a_senders_files_without_their_content(tmp_path: Path) -> None:
    files = AttachmentFiles(tmp_path / "att", clock=lambda: NOW)
    ktp = files.put(b"%PDF ktp", "ktp.pdf", "application/pdf", ANI)
    files.put(b"\x89PNG", "layar.png", "image/png", BUDI)

    assert files.of_sender(ANI) == [
        {
            "id": ktp,
            "filename": "ktp.pdf",
            "type": "application/pdf",
            "size": 8,
            "received_at": NOW.isoformat(),
        }
    ]
    # a verified address finds its other e-mail conversations too
    assert [f["id"] for f in files.of_sender("web-123", "ANI@contoh.id")] == [ktp]
    assert files.of_sender("web-123") == []


def test_erasure_keeps_a_file_another_sender_sent_and_deletes_it_with_the_last(
    tmp_path: Path,
) -> None:
    files = AttachmentFiles(tmp_path / "att", clock=lambda: NOW)
    shared = files.put(b"%PDF surat", "surat.pdf", "application/pdf", ANI)
    files.put(b"%PDF surat", "surat.pdf", "application/pdf", BUDI)
    own = files.put(b"\x89PNG ani", "ani.png", "image/png", ANI)

    assert files.forget_sender(ANI) == 2

    assert files.path_of(shared) is not None
    assert sidecar(files, shared)["senders"] == [BUDI]
    assert ANI not in sidecar(files, shared)["received_at"]
    assert files.path_of(own) is None
    assert list(files.folder.glob(f"{own[len(REFERENCE_PREFIX) :]}*")) == []
    assert files.of_sender(ANI) == []

    assert files.forget_sender(BUDI) == 1
    assert files.path_of(shared) is None
    assert list(files.folder.glob("*.json")) == []
    assert files.forget_sender(BUDI) == 0


def test_retention_deletes_only_files_nobody_sent_within_the_period(tmp_path: Path) -> None:
    clock = Clock()
    files = AttachmentFiles(tmp_path / "att", clock=clock)
    clock.now = NOW - timedelta(days=800)
    old = files.put(b"old", "lama.txt", "text/plain", ANI)
    renewed = files.put(b"renewed", "lagi.txt", "text/plain", ANI)
    clock.now = NOW - timedelta(days=1)
    files.put(b"renewed", "lagi.txt", "text/plain", BUDI)  # sent again lately: kept
    new = files.put(b"new", "baru.txt", "text/plain", BUDI)
    cutoff = NOW - timedelta(days=730)

    assert files.due(cutoff) == 1
    assert files.purge(cutoff) == 1

    assert files.path_of(old) is None
    assert files.path_of(renewed) is not None and files.path_of(new) is not None
    assert files.due(cutoff) == 0


def test_the_store_is_on_the_data_map_with_the_tickets_period() -> None:
    stores = {store.key: store for store in DATA_MAP}
    assert stores["email_attachments"].disposal is Disposal.DELETE
    assert stores["email_attachments"].default_days == stores["ticket"].default_days
    assert RetentionPolicy.from_config({"retention_days": {"email_attachments": 30}}).period(
        "email_attachments"
    ) == timedelta(days=30)
