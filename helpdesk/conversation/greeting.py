"""Greeting by time of day and the name to address the user with.

Pure functions: the caller passes the current time (already in the helpdesk's time zone)
and the channel metadata, so the rules are easy to test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

#: How the user is addressed when the channel gives no name.
POLITE_FORM = "Bapak/Ibu"

#: Longest name used in a greeting; longer values are cut (channels may send anything).
MAX_NAME_LENGTH = 60


def time_of_day(moment: datetime) -> str:
    """The Indonesian part of the day for a wall-clock time.

    Args:
        moment: The time, in the helpdesk's time zone.

    Returns:
        "pagi" (04:00-10:59), "siang" (11:00-14:59), "sore" (15:00-17:59) or "malam".
    """
    hour = moment.hour
    if 4 <= hour < 11:
        return "pagi"
    if 11 <= hour < 15:
        return "siang"
    if 15 <= hour < 18:
        return "sore"
    return "malam"


def greeting_for(moment: datetime, *, by_time_of_day: bool = True) -> str:
    """The salutation for a wall-clock time, e.g. "Selamat pagi" ("Halo" when the
    organisation does not greet by the time of day)."""
    return f"Selamat {time_of_day(moment)}" if by_time_of_day else "Halo"


def display_name(metadata: Mapping[str, Any] | None) -> str:
    """The name to address the user with, from the channel metadata.

    Args:
        metadata: The session-start metadata of the channel (may be None or hold no name).

    Returns:
        The trimmed `name` value with collapsed spaces, or `POLITE_FORM` when there is none.
    """
    if not metadata:
        return POLITE_FORM
    raw = metadata.get("name")
    if not isinstance(raw, str):
        return POLITE_FORM
    name = " ".join(raw.split())
    if not name:
        return POLITE_FORM
    return name[:MAX_NAME_LENGTH].rstrip()
