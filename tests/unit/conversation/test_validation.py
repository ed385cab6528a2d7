"""E-mail and attachment validation."""

from __future__ import annotations

import pytest

from helpdesk.conversation.validation import validate_attachment, validate_email


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("budi@contoh.go.id", "budi@contoh.go.id"),
        ("  Budi.Santoso@Contoh.GO.ID  ", "Budi.Santoso@contoh.go.id"),
        ("email saya budi@contoh.go.id ya", "budi@contoh.go.id"),
        ("kirim ke <siti_rahma@kemenkeu.go.id>.", "siti_rahma@kemenkeu.go.id"),
        ("budi@contoh.go.id, terima kasih", "budi@contoh.go.id"),
    ],
)
def test_validate_email_accepts_and_normalises(text: str, expected: str) -> None:
    assert validate_email(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "budi", "budi@", "@contoh.go.id", "budi@contoh", "budi@@contoh.go.id", "saya tidak punya"],
)
def test_validate_email_rejects(text: str) -> None:
    assert validate_email(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://contoh.go.id/bukti.pdf", "https://contoh.go.id/bukti.pdf"),
        ("ini linknya http://drive.contoh.id/f?id=1 ya", "http://drive.contoh.id/f?id=1"),
        ("HTTPS://Contoh.go.id/a.png.", "HTTPS://Contoh.go.id/a.png"),
        ("1234567890123456", "1234567890123456"),
        ("media:abc_123-x.y", "media:abc_123-x.y"),
    ],
)
def test_validate_attachment_accepts(text: str, expected: str) -> None:
    assert validate_attachment(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tidak",
        "lewati",
        "ab12",
        "wamid.HBgL=",
        "ftp://contoh.go.id/a",
        "https://",
        "a b c 123",
        "x" * 120 + "1" * 9,
    ],
)
def test_validate_attachment_rejects(text: str) -> None:
    assert validate_attachment(text) is None
