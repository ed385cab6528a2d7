"""The time the assistant decides by: office hours (hand over or take an offline message) and
the greeting's part of the day; the helpdesk's time zones (WIB, WITA, WIT or IANA names).

Normally the system clock. A test or a demo can move it without touching the machine's clock:
`HELPDESK_TEST_CLOCK_FILE` names a file that, while it exists and holds an ISO 8601 moment with
its offset ("2026-12-07T19:30:00+08:00"), is "now" for those decisions; an empty or missing
file means the system clock. The file is read on each call, so a running stack can be moved
between conversations (scripts/test_conversations.py does, for a conversation's `clock:`).
Records (tickets, events, audit) always carry the real time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

#: Time zones a helpdesk can be in, by their Indonesian abbreviation.
TIMEZONE_ALIASES = {
    "WIB": "Asia/Jakarta",
    "WITA": "Asia/Makassar",
    "WIT": "Asia/Jayapura",
}


def check_timezone(name: str) -> str:
    """`name` when it is a time zone (WIB, WITA, WIT or an IANA name).

    Raises:
        ValueError: It is not one.
    """
    try:
        ZoneInfo(TIMEZONE_ALIASES.get(name.upper(), name))
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError
        raise ValueError(
            f"{name!r} is not a time zone (use WIB, WITA, WIT or an IANA name such as "
            "Asia/Makassar)"
        ) from exc
    return name


class ClockFileError(ValueError):
    """A test clock file that holds no usable moment."""


def read_clock_file(path: Path) -> datetime | None:
    """The moment in `path`, or None when the file is missing or empty.

    Raises:
        ClockFileError: The text is not an ISO 8601 moment with an offset.
    """
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ClockFileError(f"{path}: {text!r} is not an ISO 8601 moment") from error
    if moment.tzinfo is None:
        raise ClockFileError(f"{path}: {text!r} has no UTC offset")
    return moment


def now(clock_file: Path | None = None) -> datetime:
    """The current aware time: the test clock's when `clock_file` is set and holds one (a bad
    file is logged and ignored), else the system clock's, in UTC."""
    if clock_file is not None:
        try:
            moment = read_clock_file(clock_file)
        except (ClockFileError, OSError):
            logger.exception("the test clock file is unusable; the system clock is used")
            moment = None
        if moment is not None:
            return moment
    return datetime.now(timezone.utc)
