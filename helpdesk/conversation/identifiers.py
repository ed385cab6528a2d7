"""Identifiers citizens type for the self-service lookups, parsed with the reason of a refusal.

Citizens write numbers with spaces, dots or dashes ("2600 1130 1000 123", "415.011") and
sometimes inside a sentence ("nik saya 3201..."). Each parser keeps the digits, checks the
length the architecture fixes (NIK 16, NIP 18, SP2D 15, satker 6) and raises
`IdentifierError` with the digit count so the reply can say what was wrong.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Characters citizens put between digit groups.
_SEPARATORS = re.compile(r"[\s.\-_/]+")
_DIGIT_RUN = re.compile(r"\d[\d\s.\-]*\d|\d")


class IdentifierError(ValueError):
    """A typed identifier is not acceptable.

    Attributes:
        reason: "empty", "not_digits" (letters where digits belong) or "length".
        count: How many digits the text held.
    """

    def __init__(self, reason: str, count: int = 0) -> None:
        super().__init__(f"{reason} ({count} digits)")
        self.reason = reason
        self.count = count


@dataclass(frozen=True)
class DigitRule:
    """How many digits an identifier has."""

    min_length: int
    max_length: int

    def parse(self, text: object) -> str:
        """The identifier's digits from `text`.

        The text may be the bare number with separators, or a sentence holding exactly one
        run of digits ("nik saya 3201 2345 6789 0001").

        Raises:
            IdentifierError: When there is no number, letters are mixed into it, or the
                number of digits is wrong.
        """
        raw = unicodedata.normalize("NFKC", str(text or "")).strip()
        if not raw:
            raise IdentifierError("empty")
        compact = _SEPARATORS.sub("", raw)
        if compact.isdigit():
            digits = compact
        else:
            runs = [m for m in _DIGIT_RUN.finditer(raw) if len(_SEPARATORS.sub("", m[0])) >= 3]
            if len(runs) != 1 or _glued_to_letters(raw, runs[0].start(), runs[0].end()):
                count = sum(ch.isdigit() for ch in raw)
                raise IdentifierError("not_digits" if count else "empty", count)
            digits = _SEPARATORS.sub("", runs[0][0])
        if not self.min_length <= len(digits) <= self.max_length:
            raise IdentifierError("length", len(digits))
        return digits


def _glued_to_letters(text: str, start: int, end: int) -> bool:
    """True when a letter touches the number at `text[start:end]` ("32O1..." with a letter O)."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return before.isalpha() or after.isalpha()


SP2D_NUMBER = DigitRule(15, 15)
ACCOUNT_NUMBER = DigitRule(5, 20)
SATKER_CODE = DigitRule(6, 6)
NIK = DigitRule(16, 16)
NIP = DigitRule(18, 18)
#: NRP (police and military service numbers): digits, length varies by service.
NRP = DigitRule(5, 14)

#: The identity rule of each DIGIT identity type.
IDENTITY_RULES: dict[str, DigitRule] = {"nik": NIK, "nip": NIP, "nrp": NRP}
#: Any identity number (NIK, NIP or NRP), before its type is known.
ANY_IDENTITY = DigitRule(NRP.min_length, NIP.max_length)


def identity_rule(id_type: str | None) -> DigitRule:
    """The rule of an identity number of `id_type` ("nik", "nip", "nrp"; None: not known)."""
    return IDENTITY_RULES.get(id_type or "", ANY_IDENTITY)


def identity_type_of(number: str) -> str | None:
    """Which identity a number of unknown type is by its length alone: 16 digits a NIK, 18 a
    NIP; None for any other length (an NRP, or a number whose type must be asked)."""
    return {NIK.min_length: "nik", NIP.min_length: "nip"}.get(len(number))


_CONTRACT_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9./\-_ ]*")
CONTRACT_NUMBER_MIN = 3
CONTRACT_NUMBER_MAX = 100


def parse_contract_number(text: object) -> str:
    """A contract number as written on the contract ("KTR-01/PPK/2026"), spaces collapsed.

    Raises:
        IdentifierError: "empty", "length" (outside 3-100 characters) or "not_digits" (no
            digit at all, or characters other than letters, digits and `. / - _`).
    """
    raw = " ".join(unicodedata.normalize("NFKC", str(text or "")).split()).strip(" .,;:")
    for prefix in ("nomor kontrak", "no kontrak", "no. kontrak", "kontrak nomor", "nomor", "no."):
        if raw.lower().startswith(prefix + " "):
            raw = raw[len(prefix) + 1 :].strip()
            break
    if not raw:
        raise IdentifierError("empty")
    count = sum(ch.isdigit() for ch in raw)
    if not CONTRACT_NUMBER_MIN <= len(raw) <= CONTRACT_NUMBER_MAX:
        raise IdentifierError("length", count)
    if not count or not _CONTRACT_NUMBER.fullmatch(raw):
        raise IdentifierError("not_digits", count)
    return raw.upper()


def normalize_phone(value: object) -> str | None:
    """An Indonesian phone number in international form ("6281234567890"), or None.

    Accepts "+62 812-3456-7890", "0812 3456 7890" and "6281234567890".
    """
    digits = re.sub(r"[\s\-().+]", "", str(value or ""))
    if not digits.isdigit():
        return None
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    if not digits.startswith("62") or not 10 <= len(digits) <= 15:
        return None
    return digits


def _fold(text: object) -> str:
    text = unicodedata.normalize("NFKC", str(text or "")).lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def parse_choice(
    text: object, choices: dict[str, tuple[str, ...]], precedence: tuple[str, ...] = ()
) -> str | None:
    """The key of the choice `text` names: by its number (1-based, in order) or a keyword.

    Args:
        text: What the user typed or the button payload ("2", "reset", "lupa password").
        choices: Choice key -> keywords (lower case). A keyword matches as whole words.
        precedence: Keys that win when the text also names other choices (not each other).

    Returns:
        The choice key, or None when the text names none or several (after `precedence`).
    """
    folded = _fold(text)
    if not folded:
        return None
    keys = list(choices)
    number = re.fullmatch(r"(?:pilih(?:an)?|nomor|no|opsi)?\s*(\d{1,2})", folded)
    if number:
        index = int(number.group(1)) - 1
        return keys[index] if 0 <= index < len(keys) else None
    if folded in choices:
        return folded
    padded = f" {folded} "
    found = [key for key, words in choices.items() if any(f" {w} " in padded for w in words)]
    if len(found) > 1 and precedence:
        # "aktivasi digit ... email x@y": a request names its action and the data it needs.
        found = [key for key in found if key in precedence] or found
    return found[0] if len(found) == 1 else None


#: Identity types of a DIGIT account.
ID_TYPE_CHOICES: dict[str, tuple[str, ...]] = {
    "nik": ("nik", "ktp", "nomor induk kependudukan"),
    "nip": ("nip", "nomor induk pegawai", "asn", "pns"),
    "nrp": ("nrp", "nomor registrasi pokok", "polri", "tni"),
}

#: SAKTI reset kinds.
SAKTI_KINDS: dict[str, tuple[str, ...]] = {
    "password": ("password", "pw", "pass", "kata sandi", "sandi", "passwd", "pasword"),
    "mfa": ("mfa", "otp", "authenticator", "2fa", "autentikator", "google authenticator"),
}


def requester_phone(
    channel: str | None, sender_id: str | None, trusted_channels: tuple[str, ...]
) -> str | None:
    """The verified phone number of whoever is writing, or None when it cannot be trusted.

    On a trusted channel the sender id is the phone number in international form (WhatsApp
    gives 6281234567890; an integrator's REST gateway must do the same). Elsewhere (web chat,
    Telegram) the sender id is a session or chat id, and nobody's phone is known.
    """
    if not channel or channel.lower() not in trusted_channels:
        return None
    return normalize_phone(sender_id)
