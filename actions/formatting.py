"""Presentation helpers: Indonesian dates."""

from __future__ import annotations

from datetime import datetime, tzinfo

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


def format_datetime_id(moment: datetime, tz: tzinfo) -> str:
    """Format an aware datetime in `tz` the Indonesian way.

    Example: "14 April 2026 pukul 09.30 WIB".
    """
    local = moment.astimezone(tz)
    zone = local.tzname() or ""
    text = f"{local.day} {MONTHS_ID[local.month - 1]} {local.year} pukul {local:%H.%M}"
    return f"{text} {zone}".rstrip()
