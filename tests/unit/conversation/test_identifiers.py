"""Parsers of the identifiers citizens type, and the Indonesian amount and date formats."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from helpdesk.conversation.dates import format_date_id, format_rupiah
from helpdesk.conversation.identifiers import (
    ACCOUNT_NUMBER,
    ID_TYPE_CHOICES,
    IDENTITY_RULES,
    NIK,
    NIP,
    NRP,
    SAKTI_KINDS,
    SATKER_CODE,
    SP2D_NUMBER,
    DigitRule,
    IdentifierError,
    normalize_phone,
    parse_choice,
    parse_contract_number,
    requester_phone,
)

#: Five choices offered in this order, for `parse_choice` (the DIGIT services' own keywords
#: live in helpdesk/conversation/keywords.py and are tested in test_keywords.py).
CHOICES: dict[str, tuple[str, ...]] = {
    "status": ("status", "cek status", "status akun", "cek akun", "status user"),
    "email_check": ("email", "e mail", "cek email", "surel", "alamat email"),
    "activation": ("aktivasi", "aktifkan", "aktivasikan", "mengaktifkan", "activation"),
    "reset": ("reset", "reset password", "lupa password", "lupa kata sandi", "atur ulang"),
    "unblock": ("buka blokir", "unblock", "diblokir", "terblokir", "blokir", "unblok"),
}

TRUSTED = ("whatsapp", "rest")


def refusal(rule: DigitRule, text: object) -> tuple[str, int]:
    """The reason and digit count `rule` refuses `text` with."""
    with pytest.raises(IdentifierError) as caught:
        rule.parse(text)
    return caught.value.reason, caught.value.count


# --- DigitRule.parse ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "260011301000123",
        "2600 1130 1000 123",
        "2600.1130.1000.123",
        "2600-1130-1000-123",
        "2600_1130_1000_123",
        "2600/1130/1000/123",
        "  260011301000123  ",
        "nomor saya 260011301000123 ya",
        "260011301000123.",
        "２６００１１３０１０００１２３",  # full-width digits from some keyboards
    ],
)
def test_sp2d_number_keeps_the_digits(text):
    assert SP2D_NUMBER.parse(text) == "260011301000123"


def test_nik_inside_a_sentence_with_groups():
    assert NIK.parse("nik saya 3201 2345 6789 0001") == "3201234567890001"
    assert NIK.parse("NIK: 3201-2345-6789-0001, terima kasih") == "3201234567890001"


def test_short_numbers_in_the_sentence_are_ignored():
    # "2" digits or fewer do not count as a second number.
    assert SP2D_NUMBER.parse("no 12 dan 260011301000123") == "260011301000123"


def test_integer_input_is_read_as_text():
    assert SATKER_CODE.parse(415011) == "415011"


def test_leading_zeros_are_kept():
    assert ACCOUNT_NUMBER.parse("0019876543") == "0019876543"


@pytest.mark.parametrize(
    ("rule", "text", "reason", "count"),
    [
        (SP2D_NUMBER, "26001130100012", "length", 14),
        (SP2D_NUMBER, "2600113010001234", "length", 16),
        (SATKER_CODE, "41501", "length", 5),
        (SATKER_CODE, "415.011.0", "length", 7),
        (NIK, "3201 2345 6789 001", "length", 15),
        (NIP, "3201234567890001", "length", 16),
        (NRP, "1234", "length", 4),
        (NRP, "123456789012345", "length", 15),
        (ACCOUNT_NUMBER, "1234", "length", 4),
        (ACCOUNT_NUMBER, "1" * 21, "length", 21),
    ],
)
def test_wrong_length_gives_the_digit_count(rule, text, reason, count):
    assert refusal(rule, text) == (reason, count)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("32O1234567890001", 15),  # letter O for zero
        ("32o1234567890001", 15),
        ("3201234567890OO1", 14),
        ("3201234567890001a", 16),
        ("l201234567890001", 15),  # letter l for one
    ],
)
def test_letters_glued_to_digits_are_refused(text, count):
    assert refusal(NIK, text) == ("not_digits", count)


def test_two_numbers_in_a_sentence_are_refused_with_all_digits_counted():
    assert refusal(SP2D_NUMBER, "sp 123 rek 4567890") == ("not_digits", 10)


@pytest.mark.parametrize("text", ["", "   ", None, "abc", "tidak tahu"])
def test_no_number_is_empty(text):
    assert refusal(NIK, text) == ("empty", 0)


def test_identifier_error_message_names_reason_and_count():
    error = IdentifierError("length", 14)
    assert isinstance(error, ValueError)
    assert str(error) == "length (14 digits)"


def test_identity_rules_by_type():
    assert IDENTITY_RULES["nik"].parse("3201234567890001") == "3201234567890001"
    assert IDENTITY_RULES["nip"].parse("198501012010011001") == "198501012010011001"
    assert IDENTITY_RULES["nrp"].parse("85010123") == "85010123"
    assert refusal(IDENTITY_RULES["nip"], "85010123") == ("length", 8)


def test_word_with_a_digit_elsewhere_in_the_sentence_does_not_refuse_the_number():
    assert SP2D_NUMBER.parse("nomor sp2d saya 260011301000123") == "260011301000123"


# --- parse_contract_number ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("KTR-01/PPK/2026", "KTR-01/PPK/2026"),
        ("  ktr-01/ppk/2026 ", "KTR-01/PPK/2026"),
        ("nomor kontrak KTR-01/PPK/2026", "KTR-01/PPK/2026"),
        ("No. kontrak ktr-01/ppk/2026", "KTR-01/PPK/2026"),
        ("no kontrak KTR-01/PPK/2026", "KTR-01/PPK/2026"),
        ("nomor KU.01/PBN/2026", "KU.01/PBN/2026"),
        ("027/SPK/DISDIK/II/2026.", "027/SPK/DISDIK/II/2026"),
        ("B-12/PPK.BPS/2026", "B-12/PPK.BPS/2026"),
        ("KTR   01  /PPK", "KTR 01 /PPK"),
        ("SPK_05/2026", "SPK_05/2026"),
    ],
)
def test_contract_number_is_normalised(text, expected):
    assert parse_contract_number(text) == expected


@pytest.mark.parametrize(
    ("text", "reason", "count"),
    [
        ("", "empty", 0),
        ("  .,; ", "empty", 0),
        ("ab", "length", 0),
        ("1", "length", 1),
        ("A" * 100 + "12", "length", 2),
        ("KTR/PPK", "not_digits", 0),
        ("KTR-01/PPK/2026!", "not_digits", 6),
        ("KTR#01", "not_digits", 2),
        ("/01/PPK", "not_digits", 2),
    ],
)
def test_bad_contract_number_gives_reason_and_count(text, reason, count):
    with pytest.raises(IdentifierError) as caught:
        parse_contract_number(text)
    assert (caught.value.reason, caught.value.count) == (reason, count)


# --- normalize_phone ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "6281234567890",
        "+6281234567890",
        "+62 812-3456-7890",
        "0812 3456 7890",
        "081234567890",
        "(0812) 3456-7890",
        "62.812.3456.7890",
    ],
)
def test_phone_forms_give_the_international_number(text):
    assert normalize_phone(text) == "6281234567890"


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "abc",
        "wa-6281234567890",
        "+1 555 123 4567",
        "12345",
        "628123",  # too short
        "6281234567890123",  # 16 digits: too long
        "5281234567890",
    ],
)
def test_non_indonesian_or_malformed_phones_are_none(text):
    assert normalize_phone(text) is None


def test_phone_length_bounds():
    assert normalize_phone("6281234567") == "6281234567"  # 10 digits
    assert normalize_phone("628123456789012") == "628123456789012"  # 15 digits


# --- parse_choice ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", "status"),
        ("4", "reset"),
        ("5", "unblock"),
        ("nomor 2", "email_check"),
        ("pilih 3", "activation"),
        ("opsi 5", "unblock"),
        (" 4 ", "reset"),
        ("activation", "activation"),
        ("reset", "reset"),
        ("aktivasi", "activation"),
        ("Buka Blokir!", "unblock"),
        ("saya lupa password", "reset"),
        ("cek e-mail", "email_check"),
        ("reset digit nik 3201234567890001", "reset"),
    ],
)
def test_digit_service_by_number_or_keyword(text, expected):
    assert parse_choice(text, CHOICES) == expected


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "6",
        "10",
        "",
        None,
        "xyz",
        "status email",  # names two services
        "reset12",  # keywords match whole words only
    ],
)
def test_digit_service_out_of_range_unknown_or_ambiguous_is_none(text):
    assert parse_choice(text, CHOICES) is None


def test_several_keywords_of_one_choice_are_not_ambiguous():
    # "reset" and "reset password" are both keywords of the same choice.
    assert parse_choice("reset password", CHOICES) == "reset"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", "nik"),
        ("2", "nip"),
        ("3", "nrp"),
        ("NIK", "nik"),
        ("pakai ktp", "nik"),
        ("saya PNS", "nip"),
        ("anggota polri", "nrp"),
    ],
)
def test_identity_type_choice(text, expected):
    assert parse_choice(text, ID_TYPE_CHOICES) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", "password"),
        ("2", "mfa"),
        ("3", None),
        ("reset password sakti", "password"),
        ("lupa kata sandi", "password"),
        ("google authenticator", "mfa"),
        ("OTP", "mfa"),
        ("password dan mfa", None),
    ],
)
def test_sakti_kind_choice(text, expected):
    assert parse_choice(text, SAKTI_KINDS) == expected


# --- requester_phone ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "sender_id", "expected"),
    [
        ("whatsapp", "6281234567890", "6281234567890"),
        ("WhatsApp", "6281234567890", "6281234567890"),
        ("rest", "+62 812 3456 7890", "6281234567890"),
        ("rest", "081234567890", "6281234567890"),
        ("whatsapp", "abc-session-1", None),
        ("whatsapp", None, None),
        ("socketio", "6281234567890", None),
        ("telegram", "6281234567890", None),
        (None, "6281234567890", None),
        ("", "6281234567890", None),
    ],
)
def test_requester_phone_only_on_trusted_channels(channel, sender_id, expected):
    assert requester_phone(channel, sender_id, TRUSTED) == expected


def test_trusted_channels_are_configurable():
    assert requester_phone("telegram", "6281234567890", ("telegram",)) == "6281234567890"
    assert requester_phone("whatsapp", "6281234567890", ("telegram",)) is None
    assert requester_phone("whatsapp", "6281234567890", ()) is None


# --- helpdesk.conversation.dates ----------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (15_000_000, "Rp15.000.000"),
        (245_750_000, "Rp245.750.000"),
        (1_000, "Rp1.000"),
        (999, "Rp999"),
        (0, "Rp0"),
        (-1_500, "-Rp1.500"),
    ],
)
def test_format_rupiah(amount, expected):
    assert format_rupiah(amount) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 3, 2), "2 Maret 2026"),
        (date(2026, 1, 1), "1 Januari 2026"),
        (date(2026, 8, 17), "17 Agustus 2026"),
        (date(2025, 12, 31), "31 Desember 2025"),
        (datetime(2026, 5, 20, 23, 59), "20 Mei 2026"),
    ],
)
def test_format_date_id(value, expected):
    assert format_date_id(value) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [("3171234567890001", "nik"), ("198503152010011002", "nip"), ("12345678", None), ("", None)],
)
def test_identity_type_is_known_from_the_length_of_nik_and_nip_only(number, expected) -> None:
    from helpdesk.conversation.identifiers import identity_type_of

    assert identity_type_of(number) == expected


def test_identity_rule_of_a_type_and_of_an_unknown_one() -> None:
    from helpdesk.conversation.identifiers import NIK, NRP, identity_rule

    assert identity_rule("nik") is NIK and identity_rule("nrp") is NRP
    anything = identity_rule(None)
    assert anything.parse("12345") == "12345" and anything.parse("198503152010011002")
    with pytest.raises(ValueError):
        anything.parse("1234567890123456789")  # 19 digits: no identity number is that long
