"""Dates and times written the Indonesian way, for replies and e-mails."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

MONTHS_ID = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)


def format_datetime_id(value: datetime, tz: tzinfo | None = None) -> str:
    """Format an aware datetime, e.g. "14 April 2026 pukul 09.30 WIB".

    Args:
        value: A timezone-aware datetime.
        tz: The time zone to show it in; None keeps the zone `value` carries.
    """
    local = value.astimezone(tz) if tz is not None else value
    zone = local.tzname() or ""
    text = f"{local.day} {MONTHS_ID[local.month - 1]} {local.year} pukul {local:%H.%M}"
    return f"{text} {zone}".strip()


def format_date_id(value: date) -> str:
    """Format a date, e.g. "2 Maret 2026"."""
    return f"{value.day} {MONTHS_ID[value.month - 1]} {value.year}"


def format_rupiah(amount: int) -> str:
    """Format an amount in rupiah with Indonesian digit grouping, e.g. "Rp15.000.000"."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(amount):,}".replace(",", ".")
