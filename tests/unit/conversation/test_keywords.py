"""Tests of helpdesk.conversation.keywords: choices read from informal Indonesian text."""

from __future__ import annotations

import pytest

from helpdesk.conversation.keywords import (
    ALL_FIELDS,
    DIGIT_SERVICE_KEYWORDS,
    TICKET_FIELD_KEYWORDS,
    KeywordTable,
    ReviewAnswer,
    digit_service_of,
    read_ticket_review,
    ticket_fields_of,
    wants_no_change,
    within_one_edit,
)
from helpdesk.knowledge.normalize import normalize

# --- DIGIT service from the request ------------------------------------------------------

#: (what citizens type, the service it asks for): formal, informal, slang, typos.
DIGIT_REQUESTS = [
    # unblock
    ("akun digit sy keblokir", "unblock"),
    ("akun digit saya keblokir", "unblock"),
    ("Akun DIGIT saya ke-blokir min!!", "unblock"),
    ("akun digit ke blokir", "unblock"),
    ("akun digit kena blokir", "unblock"),
    ("akun digit saya diblokir", "unblock"),
    ("akun digit terblokir", "unblock"),
    ("akun digit nip 198501012010011001 terblokir", "unblock"),
    ("mau buka blokir akun digit", "unblock"),
    ("unblock digit dong", "unblock"),
    ("akun digit saya terkunci", "unblock"),
    ("akun digit terkunciii", "unblock"),
    ("digit sy kekunci gk bs masuk", "unblock"),
    ("akun digit ke blok", "unblock"),
    ("akun digit kblokir", "unblock"),  # typos from here
    ("akun digit kebokir", "unblock"),
    ("akun digit terblokr", "unblock"),
    ("akun digit diblokirr", "unblock"),
    ("akun digit keblokir krn salah pw", "unblock"),  # blocked wins over the password
    # reset
    ("lupa pw digit", "reset"),
    ("lupa password digit", "reset"),
    ("lupa kata sandi digit", "reset"),
    ("lupa kata kunci digit", "reset"),
    ("pw digit lupa min", "reset"),
    ("password digit expired", "reset"),
    ("reset digit nik 3201234567890001", "reset"),
    ("tolong reset akun digit nip 199002022015022002", "reset"),
    ("riset pasword digit", "reset"),
    ("gmn cr ganti pw digit", "reset"),
    ("resset password digit", "reset"),
    ("reset digit, email saya budi@contoh.go.id", "reset"),  # the e-mail is data
    # activation
    ("aktivasi akun digit", "activation"),
    ("aktivasi digit", "activation"),
    ("cara aktivasi akun digit", "activation"),
    ("akun digit sy ga aktif2", "activation"),
    ("akun digit saya belum aktif", "activation"),
    ("user digit saya nonaktif, tolong aktifkan", "activation"),
    ("aktifasi digit", "activation"),
    ("aktivsi akun digit", "activation"),
    ("aktivasi digit nik 3201234567890003 email andi.wijaya@gmail.com", "activation"),
    # email_check
    ("cek email digit", "email_check"),
    ("cek e-mail digit", "email_check"),
    ("cek email akun digit saya", "email_check"),
    ("email digit saya yang mana ya", "email_check"),
    ("imel digit yg terdaftar apa", "email_check"),
    ("surel akun digit sy apa", "email_check"),
    ("emailnya digit apa min", "email_check"),
    # status
    ("cek status akun digit", "status"),
    ("status akun digit nik 3201234567890001", "status"),
    ("akun digit saya masih aktif gak", "status"),
    ("cek akun digit", "status"),
    ("statsu akun digit", "status"),
]


@pytest.mark.parametrize(("text", "expected"), DIGIT_REQUESTS)
def test_digit_service_from_informal_requests(text, expected):
    assert digit_service_of(text) == expected


@pytest.mark.parametrize(("text", "expected"), DIGIT_REQUESTS)
def test_digit_service_from_normalised_requests(text, expected):
    """The same answer when the text was normalised first (as the NLU tokenizer sees it)."""
    assert digit_service_of(normalize(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "tolong akun digit saya",
        "gabisa login digit min",
        "layanan digit",
        "status email",  # two checks
        "aktivasi atau reset digit?",  # two actions that no rule orders
        "reset12",  # keywords are whole words
        "digit",  # "di" + "git" is not a prefixed word
        "kirim ke reset.budi@contoh.go.id",  # an e-mail address is not a keyword
    ],
)
def test_digit_service_unknown_or_ambiguous_is_none(text):
    assert digit_service_of(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "status"), ("2", "email_check"), ("pilih 3", "activation"), ("4", "reset")],
)
def test_digit_service_by_number_only_as_an_answer(text, expected):
    assert digit_service_of(text, numbered=True) == expected
    assert digit_service_of(text) is None


@pytest.mark.parametrize("key", DIGIT_SERVICE_KEYWORDS.keys)
def test_a_service_key_picks_itself(key):
    # A slot already holding the key is validated again by the form.
    assert digit_service_of(key) == key


@pytest.mark.parametrize("text", ["0", "6", "10"])
def test_digit_service_number_out_of_range_is_none(text):
    assert digit_service_of(text, numbered=True) is None


def test_digit_services_are_offered_in_the_menu_order():
    assert DIGIT_SERVICE_KEYWORDS.keys == (
        "status",
        "email_check",
        "activation",
        "reset",
        "unblock",
    )


# --- ticket summary answers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kirim", ReviewAnswer(send=True)),
        ("Kirim Tiket", ReviewAnswer(send=True)),
        ("ya", ReviewAnswer(send=True)),
        ("iya sudah benar", ReviewAnswer(send=True)),
        ("bener", ReviewAnswer(send=True)),
        ("tidak ada lampiran, kirim", ReviewAnswer(send=True)),
        ("ubah", ReviewAnswer(edit=True)),
        ("ganti", ReviewAnswer(edit=True)),
        ("tidak", ReviewAnswer(edit=True)),
        ("tidak benar", ReviewAnswer(edit=True)),
        ("belum sesuai", ReviewAnswer(edit=True)),
        ("jangan dikirim dulu", ReviewAnswer(edit=True)),
        ("ubah email", ReviewAnswer(edit=True, fields=("email",))),
        ("ganti subjek", ReviewAnswer(edit=True, fields=("subject",))),
        ("emailnya salah", ReviewAnswer(edit=True, fields=("email",))),
        ("ya, ganti kronologi", ReviewAnswer(edit=True, fields=("chronology",))),
        ("lampirannya", ReviewAnswer(edit=True, fields=("attachment",))),
        ("ubah perihal dan email", ReviewAnswer(edit=True, fields=("subject", "email"))),
        ("hmm", ReviewAnswer()),
        ("", ReviewAnswer()),
    ],
)
def test_read_ticket_review(text, expected):
    assert read_ticket_review(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subjek", ("subject",)),
        ("Subyek", ("subject",)),
        ("judulnya", ("subject",)),
        ("kronologi", ("chronology",)),
        ("kronolgi", ("chronology",)),
        ("ceritanya", ("chronology",)),
        ("lampiran", ("attachment",)),
        ("foto", ("attachment",)),
        ("link nya", ("attachment",)),
        ("email", ("email",)),
        ("E-mail", ("email",)),
        ("imel sy", ("email",)),
        ("1", ("subject",)),
        ("4", ("email",)),
        ("semua", TICKET_FIELD_KEYWORDS.keys),
        ("ulang dari awal", TICKET_FIELD_KEYWORDS.keys),
        ("5", ()),
        ("apa ya", ()),
    ],
)
def test_ticket_fields_of(text, expected):
    assert ticket_fields_of(text) == expected


def test_all_fields_marker_is_not_a_field():
    assert ALL_FIELDS not in TICKET_FIELD_KEYWORDS.keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tidak ada", True),
        ("gak ada", True),
        ("sudah benar", True),
        ("kirim", True),
        ("email", False),
        ("tidak, emailnya", False),
        ("hmm", False),
    ],
)
def test_wants_no_change(text, expected):
    assert wants_no_change(text) is expected


# --- the matcher ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("blokir", "blokir", True),
        ("blokr", "blokir", True),  # deletion
        ("blokkir", "blokir", True),  # insertion
        ("aktifasi", "aktivasi", True),  # substitution
        ("emial", "email", True),  # neighbours swapped
        ("blkoir", "blokir", True),
        ("blkr", "blokir", False),
        ("reset", "riset", True),
        ("status", "sutats", False),
        ("", "a", True),
    ],
)
def test_within_one_edit(a, b, expected):
    assert within_one_edit(a, b) is expected
    assert within_one_edit(b, a) is expected


def test_short_keywords_match_exactly():
    table = KeywordTable({"cek": ("cek",), "link": ("link",)})
    assert table.named("cak") == []
    assert table.named("lint") == []
    assert table.named("cek link") == ["cek", "link"]


def test_keywords_are_normalised_like_the_text():
    # "kata sandi" is "password" to the normaliser, on both sides.
    table = KeywordTable({"password": ("kata sandi",)})
    assert table.named("lupa password") == ["password"]
    assert table.named("lupa kata sandi") == ["password"]


@pytest.mark.parametrize("table", [{}, {"x": ()}])
def test_a_table_without_keywords_is_refused(table):
    with pytest.raises(ValueError):
        KeywordTable(table)
