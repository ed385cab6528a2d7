"""Settings admins change in the agent desk, with their file-based defaults.

The office hours come from `HELPDESK_OFFICE_HOURS_FILE` until an admin saves other hours in
the desk: then the YAML stored in the desk setting "office_hours" wins. The action server asks
for the hours on every handoff, so `effective_office_hours` answers from a cache and only
re-parses when the stored setting's change time (or the file's modification time) moves.

The admin page shows the file without its (English, operator-facing) comments and summarises
the hours in force in Indonesian (`summarise_office_hours`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from helpdesk.conversation.dates import format_date_id, format_datetime_id
from helpdesk.handoff.office_hours import (
    DAYS_ID,
    DatedDay,
    Interval,
    OfficeHours,
    OfficeHoursError,
)
from helpdesk.handoff.office_hours_loader import load_office_hours
from helpdesk.settings import Settings
from helpdesk.storage.desk_settings import DeskSettingRepository

logger = logging.getLogger(__name__)

#: Desk setting holding the office hours as YAML (the format of helpdesk/office_hours.yml).
OFFICE_HOURS_KEY = "office_hours"
#: How many upcoming holidays and special days the admin summary lists.
UPCOMING_LIMIT = 10
#: The summary warns when no holiday or special day is listed this many days ahead.
LISTED_AHEAD_DAYS = 60


def parse_office_hours_text(text: str) -> OfficeHours:
    """Parse office hours written as YAML text (same format and checks as the file).

    Raises:
        OfficeHoursError: The text is not valid YAML or has an invalid field; the message
            names the field (without any file name).
    """
    # The loader reads files; a private temporary file keeps one parser for both sources.
    fd, name = tempfile.mkstemp(prefix="office_hours_", suffix=".yml")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return load_office_hours(path)
    except OfficeHoursError as exc:
        message = str(exc).replace(f"{path}: ", "").replace(str(path), "office_hours")
        raise OfficeHoursError(message) from None
    finally:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class OfficeHoursSnapshot:
    """The office hours in force and where they came from.

    Attributes:
        hours: The parsed office hours.
        source: "desk" (saved by an admin) or "file" (HELPDESK_OFFICE_HOURS_FILE).
        updated_at: When the desk setting was saved (None for the file).
    """

    hours: OfficeHours
    source: str
    updated_at: datetime | None


class OfficeHoursProvider:
    """The effective office hours, cached: one cheap query per call, parsing only on change.

    Args:
        settings: Gives `office_hours_file`, the default.
        session_factory: The helpdesk store, where the desk setting lives.
    """

    def __init__(self, settings: Settings, session_factory: Callable[[], Any]) -> None:
        self._file = Path(settings.office_hours_file)
        self._settings = DeskSettingRepository(session_factory)
        self._lock = threading.Lock()
        self._file_cache: tuple[float, OfficeHours] | None = None
        self._desk_cache: OfficeHoursSnapshot | None = None
        self._bad_setting_at: datetime | None = None

    def snapshot(self) -> OfficeHoursSnapshot:
        """The hours in force now (desk setting when saved and valid, else the file).

        Raises:
            OfficeHoursError: No valid desk setting and the file is missing or invalid.
        """
        with self._lock:
            changed_at = self._settings.updated_at(OFFICE_HOURS_KEY)
            if changed_at is not None:
                cached = self._desk_cache
                if cached is not None and cached.updated_at == changed_at:
                    return cached
                if changed_at != self._bad_setting_at:
                    snapshot = self._load_desk_setting()
                    if snapshot is not None:
                        return snapshot
            return OfficeHoursSnapshot(self._load_file(), "file", None)

    def get(self) -> OfficeHours:
        """The office hours in force now."""
        return self.snapshot().hours

    def _load_desk_setting(self) -> OfficeHoursSnapshot | None:
        record = self._settings.get(OFFICE_HOURS_KEY)
        if record is None:
            return None
        try:
            hours = parse_office_hours_text(record.value)
        except OfficeHoursError as exc:
            # The desk validates before saving; this only happens after a manual DB edit.
            logger.error("office hours saved in the desk are invalid, using the file: %s", exc)
            self._bad_setting_at = record.updated_at
            return None
        self._desk_cache = OfficeHoursSnapshot(hours, "desk", record.updated_at)
        return self._desk_cache

    def _load_file(self) -> OfficeHours:
        try:
            mtime = self._file.stat().st_mtime
        except OSError:
            mtime = -1.0
        if self._file_cache is None or self._file_cache[0] != mtime:
            self._file_cache = (mtime, load_office_hours(self._file))
        return self._file_cache[1]


_providers: "weakref.WeakKeyDictionary[Any, dict[Path, OfficeHoursProvider]]" = (
    weakref.WeakKeyDictionary()
)
_providers_lock = threading.Lock()


def office_hours_provider(
    settings: Settings, session_factory: Callable[[], Any]
) -> OfficeHoursProvider:
    """The shared provider for this store and file (one per session factory and file)."""
    with _providers_lock:
        by_file = _providers.setdefault(session_factory, {})
        path = Path(settings.office_hours_file)
        if path not in by_file:
            by_file[path] = OfficeHoursProvider(settings, session_factory)
        return by_file[path]


def effective_office_hours(settings: Settings, session_factory: Callable[[], Any]) -> OfficeHours:
    """The office hours in force: the desk setting when an admin saved one, else the file.

    Cheap to call per request: one indexed query, and parsing only when something changed.

    Raises:
        OfficeHoursError: No valid desk setting and the file is missing or invalid.
    """
    return office_hours_provider(settings, session_factory).get()


def office_hours_text(settings: Settings, session_factory: Callable[[], Any]) -> tuple[str, str]:
    """The YAML an admin edits and its source: ("desk" or "file").

    The admin's saved text is returned as they wrote it. When no desk setting was saved, the
    file's text is returned without its comments (they are written for operators, in English,
    and would mislead an admin of the desk); empty if the file is missing.
    """
    record = DeskSettingRepository(session_factory).get(OFFICE_HOURS_KEY)
    if record is not None:
        return record.value, "desk"
    try:
        text = Path(settings.office_hours_file).read_text(encoding="utf-8")
    except OSError:
        return "", "file"
    return strip_yaml_comments(text), "file"


class OfficeHoursSettings:
    """The office hours as admins edit them in the agent desk.

    Args:
        settings: Gives `office_hours_file`, the default.
        session_factory: The helpdesk store, where the desk setting lives.
    """

    def __init__(self, settings: Settings, session_factory: Callable[[], Any]) -> None:
        self._settings = settings
        self._session_factory = session_factory

    def text(self) -> tuple[str, str]:
        """The YAML an admin edits and its source, "desk" or "file" (`office_hours_text`)."""
        return office_hours_text(self._settings, self._session_factory)

    def snapshot(self) -> OfficeHoursSnapshot:
        """The hours in force now and where they came from (the shared provider's).

        Raises:
            OfficeHoursError: No valid desk setting and the file is missing or invalid.
        """
        return office_hours_provider(self._settings, self._session_factory).snapshot()

    def save(self, text: str) -> OfficeHours:
        """Check the YAML text and store it as the hours in force.

        Returns:
            The hours saved.

        Raises:
            OfficeHoursError: The text is not valid office hours (nothing is stored).
        """
        hours = parse_office_hours_text(text)
        DeskSettingRepository(self._session_factory).set(OFFICE_HOURS_KEY, text)
        return hours

    def reset(self) -> bool:
        """Forget the saved hours: the file's apply again. False when none were saved."""
        return DeskSettingRepository(self._session_factory).delete(OFFICE_HOURS_KEY)


def strip_yaml_comments(text: str) -> str:
    """YAML text without its comments and without runs of blank lines; the data stays the same.

    Comment lines and trailing comments are removed line by line, keeping the layout (flow
    mappings such as `{date: 2026-01-01, name: ...}` stay on one line). When that would change
    the data (e.g. a `#` inside a block scalar), the parsed data is dumped again instead.
    Text that is not valid YAML only loses its whole-line comments.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return _join_lines(line for line in text.splitlines() if not _is_comment(line))
    stripped = _join_lines(
        _without_comment(line) for line in text.splitlines() if not _is_comment(line)
    )
    try:
        unchanged = yaml.safe_load(stripped) == data
    except yaml.YAMLError:
        unchanged = False
    if unchanged:
        return stripped
    if data is None:
        return ""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _join_lines(lines: Iterable[str]) -> str:
    """Lines joined into text, without leading, trailing or repeated blank lines."""
    kept: list[str] = []
    for line in lines:
        if line.strip() or (kept and kept[-1].strip()):
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "".join(f"{line}\n" for line in kept)


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _without_comment(line: str) -> str:
    """The line up to its comment (a `#` at the start or after a blank, outside quotes)."""
    quote = ""
    escaped = False
    for index, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'\"" and (index == 0 or line[index - 1] in " \t[{,:-"):
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index].rstrip()
    return line.rstrip()


@dataclass(frozen=True)
class DatedDayLine:
    """One upcoming holiday or special day, in Indonesian.

    Attributes:
        date: E.g. "Kamis, 24 Desember 2026".
        kind: "Hari libur", "Jam khusus" or "Hari libur dengan jam khusus".
        name: The holiday's or special day's name ("" when a special day has none).
        hours: "Tutup sepanjang hari" or the hours, e.g. "08.00-12.00 WITA".
    """

    date: str
    kind: str
    name: str
    hours: str


@dataclass(frozen=True)
class OfficeHoursSummary:
    """The office hours in force as an admin checks them, all in Indonesian.

    Attributes:
        weekly: The weekly hours as citizens read them (`OfficeHours.describe()`).
        days: Each weekday with its hours, Monday first, e.g. ("Sabtu", "tutup").
        zone: The time zone, e.g. "WITA (Asia/Makassar)".
        now: The current time in that zone, e.g. "Jumat, 4 Desember 2026 pukul 10.15 WITA".
        status: Open or closed now, and until / from when.
        upcoming: The next holidays and special days (at most `UPCOMING_LIMIT`).
        more: How many further holidays and special days are listed after those shown.
        warning: A reminder when the list of holidays runs out soon, else "".
    """

    weekly: str
    days: tuple[tuple[str, str], ...]
    zone: str
    now: str
    status: str
    upcoming: tuple[DatedDayLine, ...]
    more: int
    warning: str


def summarise_office_hours(
    hours: OfficeHours, now: datetime, limit: int = UPCOMING_LIMIT
) -> OfficeHoursSummary:
    """Summarise office hours for the admin page: weekly hours, status, upcoming dates.

    Args:
        hours: The office hours in force.
        now: The current time (timezone-aware).
        limit: How many upcoming holidays and special days to list.

    Raises:
        ValueError: `now` is naive or `limit` is negative.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"summarise_office_hours needs a timezone-aware datetime, got {now!r}")
    local = now.astimezone(hours.tz)
    today = local.date()
    upcoming = hours.upcoming_days(today)
    key = getattr(hours.tz, "key", None) or str(hours.tz)
    zone = hours.zone_label if hours.zone_label == key else f"{hours.zone_label} ({key})"
    return OfficeHoursSummary(
        weekly=hours.describe(),
        days=tuple(
            (DAYS_ID[index], _hours_label(intervals, ""))
            for index, intervals in enumerate(hours.weekly)
        ),
        zone=zone,
        now=_moment_label(local),
        status=_status(hours, local),
        upcoming=tuple(_dated_day_line(day, hours.zone_label) for day in upcoming[:limit]),
        more=max(0, len(upcoming) - limit),
        warning=_listing_warning(hours, today),
    )


def _moment_label(local: datetime) -> str:
    return f"{DAYS_ID[local.weekday()]}, {format_datetime_id(local)}"


def _hours_label(intervals: tuple[Interval, ...], zone: str) -> str:
    if not intervals:
        return "tutup"
    return f"{' dan '.join(interval.label for interval in intervals)} {zone}".strip()


def _dated_day_line(day: DatedDay, zone: str) -> DatedDayLine:
    if day.special is None:
        kind, name = "Hari libur", day.holiday
    elif day.holiday:
        kind, name = "Hari libur dengan jam khusus", day.special.name or day.holiday
    else:
        kind, name = "Jam khusus", day.special.name
    hours = _hours_label(day.intervals, zone) if day.intervals else "Tutup sepanjang hari"
    date_label = f"{DAYS_ID[day.date.weekday()]}, {format_date_id(day.date)}"
    return DatedDayLine(date_label, kind, name, hours)


def _status(hours: OfficeHours, local: datetime) -> str:
    if hours.is_open(local):
        closing = hours.closing_time(local)
        if closing is None:
            return "Buka sekarang."
        return f"Buka sekarang, sampai {_moment_label(closing)}."
    holiday = hours.holiday(local)
    closed = f"Tutup sekarang ({holiday})" if holiday else "Tutup sekarang"
    opening = hours.format_next_opening(local)
    if not opening:
        return f"{closed}; tidak ada jam buka dalam setahun ke depan."
    return f"{closed}; buka lagi {opening}."


def _listing_warning(hours: OfficeHours, today: date) -> str:
    last = max((holiday.date for holiday in hours.holidays), default=None)
    if last is None or last < today:
        return (
            "Belum ada hari libur yang tercatat mulai hari ini. Mohon lengkapi daftar hari "
            "libur (holidays) sesuai SKB libur nasional dan cuti bersama."
        )
    if last < today + timedelta(days=LISTED_AHEAD_DAYS):
        return (
            f"Hari libur hanya tercatat sampai {format_date_id(last)}. Mohon tambahkan hari "
            "libur tahun berikutnya (holidays) sesuai SKB libur nasional dan cuti bersama."
        )
    return ""
