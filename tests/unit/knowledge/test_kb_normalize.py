"""Normaliser: informal Indonesian becomes the words the FAQs use."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk.knowledge.normalize import SLANG_FILE, content_tokens, load_slang, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gmn cr reset pw SAKTI min??", "bagaimana cara reset password sakti"),
        ("gimana caranya", "bagaimana cara"),
        ("sy udh daftar tp blm ada kabar", "saya sudah daftar tapi belum ada kabar"),
        ("aku gk bs login krn lupa pass", "saya tidak bisa login karena lupa password"),
        ("tolongggg dong kak", "tolong"),
        ("utk rek bendahara dgn apk apa", "untuk rekening bendahara dengan aplikasi apa"),
        ("lupa kata sandi", "lupa password"),
        ("no hp berubah", "nomor ponsel berubah"),
        ("syarat2 domain co id dll", "syarat domain co.id dan lain lain"),
        ("dokumen-dokumen e-mail", "dokumen email"),
        ("knp brp tgl dmn", "kenapa berapa tanggal dimana"),
        ("Maaaaf, mau tanya", "maaf mau tanya"),
    ],
)
def test_normalize_expands_informal_spelling(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_keeps_numbers_and_identifiers() -> None:
    text = "Tiket 20260414-DBKSWU, NIK 3171234567890001, gaji Rp 7.000.000, domain www.pandi.id"
    assert normalize(text) == (
        "tiket 20260414-dbkswu nik 3171234567890001 gaji rp 7000000 domain www.pandi.id"
    )


def test_content_tokens_drop_request_and_function_words() -> None:
    assert content_tokens("mau tanya dong min") == []
    assert content_tokens("Selamat pagi, saya ingin bertanya") == []
    assert content_tokens("gmn cr reset pw sakti min") == ["reset", "password", "sakti"]
    assert content_tokens("apa itu SP2D?") == ["sp2d"]


def test_empty_and_punctuation_only_text() -> None:
    assert normalize("") == ""
    assert normalize("?!...") == ""
    assert content_tokens("??") == []


def test_slang_dictionary_is_a_data_file_that_can_be_extended(tmp_path: Path) -> None:
    extended = tmp_path / "slang.yml"
    extended.write_text(
        SLANG_FILE.read_text(encoding="utf-8") + "  bpjs2an: bpjs\n", encoding="utf-8"
    )
    slang = load_slang(extended)
    assert normalize("daftar bpjs2an", slang) == "daftar bpjs"


def test_load_slang_rejects_wrong_version(tmp_path: Path) -> None:
    bad = tmp_path / "slang.yml"
    bad.write_text("version: 9\nwords: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="version: 1"):
        load_slang(bad)
