"""Masking of personal identifiers for logs and replies (no full NIK, NIP, account or phone)."""

from __future__ import annotations

import re


def mask_digits(value: str | None, keep: int = 4) -> str:
    """Hide all but the last `keep` characters: "3201234567890001" -> "************0001".

    Values of `keep` characters or fewer are hidden entirely.
    """
    text = "".join(str(value or "").split())
    if not text:
        return ""
    if len(text) <= keep:
        return "*" * len(text)
    return "*" * (len(text) - keep) + text[-keep:]


def mask_identifier(value: str | None) -> str:
    """A long identifier with its first and last 4 characters shown, as the desk and the
    audit trail show a NIK, NIP or account number: "3201234567890001" -> "3201********0001".

    Values shorter than 12 characters keep only their last 4 (`mask_digits`).
    """
    text = "".join(str(value or "").split())
    if len(text) < 12:
        return mask_digits(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def mask_phone(phone: str | None) -> str:
    """Keep the operator prefix and the last 4 digits: "6281234567890" -> "62812****7890"."""
    digits = re.sub(r"\D", "", str(phone or ""))
    if len(digits) <= 9:
        return mask_digits(digits)
    return digits[:5] + "*" * (len(digits) - 9) + digits[-4:]


def _mask_part(part: str, keep: int = 2) -> str:
    if len(part) <= keep:
        return part[:1] + "***"
    return part[:keep] + "***"


def mask_email(email: str | None) -> str:
    """Hide most of an address: "budi.santoso@kemenkeu.go.id" -> "bu***@ke***.go.id"."""
    text = str(email or "").strip()
    if "@" not in text:
        return mask_digits(text) if text else ""
    local, _, domain = text.rpartition("@")
    host, dot, suffix = domain.partition(".")
    return f"{_mask_part(local)}@{_mask_part(host)}{dot}{suffix}"


#: A run of at least 7 digits, alone or in groups joined by one space, dot or hyphen
#: ("3201 2345 6789 0001", "+62 812-3456-7890", "1357-924-680"), with an optional "+".
_NUMBER = re.compile(r"(?<![0-9])(?:\+ ?)?[0-9](?:[ .\-]?[0-9]){6,}(?![0-9])")
#: An e-mail address, also URL-encoded ("budi%40contoh.go.id"). Starting only where a local
#: part can start, with bounded repeats, keeps the scan linear on long texts.
_EMAIL_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9._+\-])[A-Za-z0-9._+\-]{1,64}(?:@|%40)"
    r"[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){1,8}"
)
#: Secrets in URLs ("?token=...") and in authorization headers ("Bearer ...").
_URL_SECRET = re.compile(
    r"(?i)([?&;](?:token|access_token|auth_token|api_key|apikey|key|secret|password|signature"
    r"|hub\.verify_token)=)[^&\s\"'#]+"
)
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/\-]+=*")
#: Numbers kept in a run of groups: ISO dates and IPv4 addresses.
_KEPT_NUMBER = re.compile(
    r"(?:19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]|(?<![0-9])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])"
)
#: Contiguous runs shorter than this are masked only when they are not a date (YYYYMMDD),
#: so ticket ids ("20260414-DBKSWU") stay readable; runs written in groups need this many.
_MIN_GROUPED_DIGITS = 9


def _is_compact_date(digits: str) -> bool:
    if len(digits) != 8 or digits[:2] not in ("19", "20"):
        return False
    month, day = int(digits[4:6]), int(digits[6:8])
    return 1 <= month <= 12 and 1 <= day <= 31


def _mask_run(digits: str) -> str:
    """A contiguous run of digits: masked unless it is short and a date."""
    if len(digits) < _MIN_GROUPED_DIGITS and _is_compact_date(digits):
        return digits
    return mask_digits(digits)


def _mask_number(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = re.sub(r"[^0-9]", "", raw)
    if raw.isdigit():
        return _mask_run(raw)
    if _KEPT_NUMBER.search(raw):  # "2026-04-14 3201234567890001": keep the date only
        pieces: list[str] = []
        start = 0
        for kept in _KEPT_NUMBER.finditer(raw):
            pieces += [_NUMBER.sub(_mask_number, raw[start : kept.start()]), kept.group(0)]
            start = kept.end()
        return "".join(pieces) + _NUMBER.sub(_mask_number, raw[start:])
    groups = raw.split(" ")
    if any(group.isdigit() and len(group) >= _MIN_GROUPED_DIGITS for group in groups):
        # "12:30:33 3201234567890001": a whole identifier beside another number
        return " ".join(_NUMBER.sub(_mask_number, group) for group in groups)
    if raw.count(".") == 1 and raw.replace(".", "").isdigit():  # a decimal number
        whole, _, fraction = raw.partition(".")
        return ".".join(_mask_run(part) if len(part) >= 7 else part for part in (whole, fraction))
    if len(digits) < _MIN_GROUPED_DIGITS:
        return raw
    return mask_digits(digits)


def _mask_address(match: re.Match[str]) -> str:
    return mask_email(match.group(0).replace("%40", "@"))


def mask_identifiers(text: str) -> str:
    """Mask every personal identifier and secret in a free text (a log line, an export).

    Masked: numbers of 7 or more digits, also written in groups ("3201 2345 6789 0001",
    "+62 812-3456-7890"): NIK, NIP, NRP, phone, account and SP2D numbers, keeping the last 4
    digits ("************0001"); e-mail addresses ("bu***@co***.go.id"); `token=`-like URL
    parameters and bearer tokens ("***"). Kept: dates ("2026-04-14", "20260414" in a ticket
    id), IPv4 addresses, and numbers of up to 6 digits (satker codes, amounts, ports).

    Args:
        text: Any text.

    Returns:
        The text with the identifiers masked; the same object when nothing was found.
    """
    if "@" in text or "%40" in text:
        text = _EMAIL_IN_TEXT.sub(_mask_address, text)
    if "=" in text:
        text = _URL_SECRET.sub(r"\1***", text)
    if "earer" in text:
        text = _BEARER.sub(r"\1***", text)
    return _NUMBER.sub(_mask_number, text)


def shown_masked_email(value: str | None) -> str:
    """An address a backend returned as masked, as shown to a citizen: kept when it is masked
    ("bu***@ke***.go.id"), masked here when a backend sent it whole."""
    text = str(value or "").strip()
    if not text or "*" in text:
        return text
    return mask_email(text)
