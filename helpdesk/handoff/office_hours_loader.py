"""Loading the office hours from YAML (`helpdesk/office_hours.yml`), each field checked."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from helpdesk.clock import TIMEZONE_ALIASES
from helpdesk.handoff.office_hours import (
    _MINUTES_PER_DAY,
    DAYS_ID,
    Holiday,
    Interval,
    OfficeHours,
    OfficeHoursError,
    SpecialDay,
    _normalise,
)

#: Day names accepted in the configuration (English and Indonesian), Monday = 0.
DAY_NAMES: dict[str, int] = {
    "monday": 0,
    "senin": 0,
    "tuesday": 1,
    "selasa": 1,
    "wednesday": 2,
    "rabu": 2,
    "thursday": 3,
    "kamis": 3,
    "friday": 4,
    "jumat": 4,
    "jum'at": 4,
    "saturday": 5,
    "sabtu": 5,
    "sunday": 6,
    "minggu": 6,
    "ahad": 6,
}

#: Values that mark a day as closed, besides an empty list or nothing.
_CLOSED_WORDS = {"closed", "tutup", "libur"}

_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_TOP_LEVEL_KEYS = {"version", "timezone", "weekly", "holidays", "special_days"}


def _parse_time(text: str, where: str, *, is_end: bool) -> int:
    match = _TIME.match(text.strip())
    hours, minutes = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)
    if hours == 24 and minutes == 0 and is_end:
        return _MINUTES_PER_DAY
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise OfficeHoursError(
            f"{where}: bad time {text.strip()!r} (use HH:MM from 00:00 to 23:59; "
            "24:00 only as an end)"
        )
    return hours * 60 + minutes


def _parse_interval(value: Any, where: str) -> Interval:
    if not isinstance(value, str) or value.count("-") != 1:
        hint = " (quote times in YAML)" if isinstance(value, int) else ""
        raise OfficeHoursError(f'{where}: {value!r} is not an interval like "08:00-16:00"{hint}')
    start_text, end_text = value.split("-")
    start = _parse_time(start_text, where, is_end=False)
    end = _parse_time(end_text, where, is_end=True)
    if end <= start:
        raise OfficeHoursError(f"{where}: interval {value.strip()!r} ends at or before its start")
    return Interval(start, end)


def _parse_hours(value: Any, where: str) -> tuple[Interval, ...]:
    """A day's hours: a list of intervals, one interval, or nothing / [] / "tutup" (closed)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _CLOSED_WORDS):
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise OfficeHoursError(
            f'{where}: expected a list of intervals like ["08:00-16:00"], got {value!r}'
        )
    return _normalise((_parse_interval(item, where) for item in value), where)


def _parse_day_key(key: Any, where: str) -> list[int]:
    """Weekday numbers of a key: one day ("senin") or a forward range ("monday-thursday")."""
    text = str(key).strip().lower()
    names = [part.strip() for part in text.split("-")] if "-" in text else [text]
    unknown = [name for name in names if name not in DAY_NAMES]
    if len(names) > 2 or unknown:
        raise OfficeHoursError(
            f"{where}: unknown day name {key!r} (use monday..sunday or senin..minggu, "
            "or a range such as senin-kamis)"
        )
    first, last = DAY_NAMES[names[0]], DAY_NAMES[names[-1]]
    if last < first:
        raise OfficeHoursError(f"{where}: day range {key!r} must run from Monday towards Sunday")
    return list(range(first, last + 1))


def _parse_weekly(value: Any, where: str) -> tuple[tuple[Interval, ...], ...]:
    if not isinstance(value, dict):
        raise OfficeHoursError(f"{where}: expected a mapping of day names to intervals")
    days: list[tuple[Interval, ...] | None] = [None] * 7
    for key, hours in value.items():
        field_where = f"{where}.{key}"
        intervals = _parse_hours(hours, field_where)
        for index in _parse_day_key(key, field_where):
            if days[index] is not None:
                raise OfficeHoursError(f"{field_where}: {DAYS_ID[index]} is given twice")
            days[index] = intervals
    return tuple(day or () for day in days)


def _parse_timezone(value: Any, where: str) -> ZoneInfo:
    if not isinstance(value, str) or not value.strip():
        raise OfficeHoursError(f"{where}: missing (use WIB, WITA, WIT or an IANA name)")
    name = value.strip()
    try:
        return ZoneInfo(TIMEZONE_ALIASES.get(name.upper(), name))
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise OfficeHoursError(
            f"{where}: unknown time zone {name!r} (use WIB, WITA, WIT or an IANA name such as "
            "Asia/Makassar)"
        ) from exc


def _parse_date(value: Any, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise OfficeHoursError(f"{where}: bad date {value!r} (use YYYY-MM-DD)") from exc


def _entries(value: Any, where: str, keys: set[str], required: set[str]) -> list[dict[str, Any]]:
    """Check a list of mappings (holidays, special days) for unknown and missing keys."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise OfficeHoursError(f"{where}: expected a list")
    for index, entry in enumerate(value):
        entry_where = f"{where}[{index + 1}]"
        if not isinstance(entry, dict):
            raise OfficeHoursError(f"{entry_where}: each entry must be a mapping")
        unknown = sorted(str(key) for key in entry if key not in keys)
        if unknown:
            raise OfficeHoursError(f"{entry_where}: unknown field(s) {', '.join(unknown)}")
        missing = sorted(key for key in required if key not in entry)
        if missing:
            raise OfficeHoursError(f"{entry_where}: missing {', '.join(missing)}")
    return value


def _parse_holidays(value: Any, where: str) -> tuple[Holiday, ...]:
    holidays = []
    for index, entry in enumerate(_entries(value, where, {"date", "name"}, {"date", "name"})):
        entry_where = f"{where}[{index + 1}]"
        day = _parse_date(entry["date"], f"{entry_where}.date")
        name = entry["name"]
        if not isinstance(name, str) or not name.strip():
            raise OfficeHoursError(f"{entry_where}.name: the holiday of {day} needs a name")
        holidays.append(Holiday(day, name.strip()))
    return tuple(holidays)


def _parse_special_days(value: Any, where: str) -> tuple[SpecialDay, ...]:
    days = []
    entries = _entries(value, where, {"date", "hours", "name"}, {"date", "hours"})
    for index, entry in enumerate(entries):
        entry_where = f"{where}[{index + 1}]"
        day = _parse_date(entry["date"], f"{entry_where}.date")
        intervals = _parse_hours(entry["hours"], f"{entry_where}.hours")
        name = entry.get("name") or ""
        if not isinstance(name, str):
            raise OfficeHoursError(f"{entry_where}.name: expected text, got {name!r}")
        days.append(SpecialDay(day, intervals, name.strip()))
    return tuple(days)


class _Loader(yaml.SafeLoader):
    """A safe loader that keeps dates as text, so a bad date is reported with its field."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_office_hours(path: Union[str, Path]) -> OfficeHours:
    """Load the office hours from a YAML file.

    Raises:
        OfficeHoursError: The file is missing, is not valid YAML or has an invalid field
            (time, interval, day name, date or time zone); the message names file and field.
    """
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except FileNotFoundError as exc:
        raise OfficeHoursError(f"{path}: office hours file not found") from exc
    except yaml.YAMLError as exc:
        raise OfficeHoursError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise OfficeHoursError(f"{path}: expected a mapping with 'timezone' and 'weekly'")
    unknown = sorted(str(key) for key in data if key not in _TOP_LEVEL_KEYS)
    if unknown:
        raise OfficeHoursError(
            f"{path}: unknown field(s) {', '.join(unknown)} "
            f"(expected {', '.join(sorted(_TOP_LEVEL_KEYS))})"
        )
    if data.get("version", 1) != 1:
        raise OfficeHoursError(f"{path}: version: unsupported version {data['version']!r}")
    tz = _parse_timezone(data.get("timezone"), f"{path}: timezone")
    weekly = _parse_weekly(data.get("weekly"), f"{path}: weekly")
    holidays = _parse_holidays(data.get("holidays"), f"{path}: holidays")
    special_days = _parse_special_days(data.get("special_days"), f"{path}: special_days")
    try:
        return OfficeHours(tz=tz, weekly=weekly, holidays=holidays, special_days=special_days)
    except OfficeHoursError as exc:
        raise OfficeHoursError(f"{path}: {exc}") from exc
