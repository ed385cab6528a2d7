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
