"""Office hours of the helpdesk staff, loaded from configuration (`helpdesk/office_hours.yml`).

The bot answers around the clock; the office hours decide whether a request for a human officer
is handed over now or gets the offline message (and is recorded as a ticket). A schedule has a
time zone, a weekly schedule with one or more intervals per day, holidays (closed all day) and
special days (other hours on one date, e.g. a half day).

Intervals are half-open, [start, end): with Friday 08:00-11:30 the office is open at 11:29:59
and closed at 11:30. All times are wall-clock times in the schedule's time zone, so a schedule
in a zone with daylight saving time keeps its local hours across the change.

Loading a schedule from YAML, field by field, is `helpdesk.handoff.office_hours_loader`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from helpdesk.clock import TIMEZONE_ALIASES
from helpdesk.conversation.dates import format_datetime_id

#: How many days ahead `OfficeHours.next_opening` looks before giving up.
SEARCH_DAYS = 370

#: Indonesian day names, Monday first (the order of `datetime.weekday()`).
DAYS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")

_MINUTES_PER_DAY = 24 * 60


class OfficeHoursError(ValueError):
    """The office-hours configuration is invalid (message names the file and the field)."""


@dataclass(frozen=True, order=True)
class Interval:
    """Opening hours within one day: [start, end), in minutes since midnight.

    Attributes:
        start: First minute open (0-1439).
        end: First minute closed again (1-1440; 1440 is midnight at the end of the day).
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < _MINUTES_PER_DAY or not 0 < self.end <= _MINUTES_PER_DAY:
            raise OfficeHoursError(f"interval {self.start}-{self.end} is outside one day")
        if self.end <= self.start:
            raise OfficeHoursError(f"interval {self.label} ends at or before its start")

    def contains(self, moment: time) -> bool:
        """Whether a wall-clock time falls in the interval (start included, end excluded)."""
        seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
        return self.start * 60 <= seconds + moment.microsecond / 1_000_000 < self.end * 60

    @property
    def label(self) -> str:
        """The interval the Indonesian way, e.g. "08.00-11.30"."""
        return f"{_clock(self.start)}-{_clock(self.end)}"


@dataclass(frozen=True)
class Holiday:
    """A date the office is closed all day.

    Attributes:
        date: The date, in the schedule's time zone.
        name: Indonesian name, e.g. "Hari Raya Natal".
    """

    date: date
    name: str


@dataclass(frozen=True)
class SpecialDay:
    """A date with other hours than the weekly schedule (e.g. a half day).

    Attributes:
        date: The date, in the schedule's time zone.
        intervals: The hours of that date; empty means closed.
        name: Optional Indonesian description.
    """

    date: date
    intervals: tuple[Interval, ...]
    name: str = ""


@dataclass(frozen=True)
class DatedDay:
    """A date the weekly schedule does not decide: a holiday, a special day or both.

    Attributes:
        date: The date, in the schedule's time zone.
        intervals: The hours that apply on that date; empty means closed.
        holiday: The holiday's name when the date is a holiday, else "".
        special: The special day when the date has its own hours (it wins over a holiday).
    """

    date: date
    intervals: tuple[Interval, ...]
    holiday: str = ""
    special: SpecialDay | None = None


@dataclass(frozen=True)
class OfficeHours:
    """A weekly schedule with holidays and special days in one time zone.

    Precedence for a date: a special day, else a holiday (closed), else the weekly schedule.

    Attributes:
        tz: The time zone the hours are written in.
        weekly: Seven tuples of intervals, Monday first; an empty tuple is a closed day.
        holidays: Dates closed all day.
        special_days: Dates with their own hours.
    """

    tz: ZoneInfo
    weekly: tuple[tuple[Interval, ...], ...]
    holidays: tuple[Holiday, ...] = ()
    special_days: tuple[SpecialDay, ...] = ()
    _holiday_by_date: dict[date, str] = field(init=False, repr=False, compare=False)
    _special_by_date: dict[date, SpecialDay] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise OfficeHoursError(f"weekly: expected 7 days, got {len(self.weekly)}")
        weekly = tuple(
            _normalise(day, f"weekly.{DAYS_ID[index].lower()}")
            for index, day in enumerate(self.weekly)
        )
        holidays: dict[date, str] = {}
        for holiday in self.holidays:
            if holiday.date in holidays:
                raise OfficeHoursError(f"holidays: date {holiday.date} is listed twice")
            holidays[holiday.date] = holiday.name
        special: dict[date, SpecialDay] = {}
        for day in self.special_days:
            if day.date in special:
                raise OfficeHoursError(f"special_days: date {day.date} is listed twice")
            special[day.date] = SpecialDay(
                day.date, _normalise(day.intervals, f"special_days {day.date}"), day.name
            )
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "special_days", tuple(special.values()))
        object.__setattr__(self, "_holiday_by_date", holidays)
        object.__setattr__(self, "_special_by_date", special)

    @property
    def zone_label(self) -> str:
        """WIB, WITA or WIT for the three Indonesian zones, else the zone name."""
        name = getattr(self.tz, "key", None) or str(self.tz)
        return {zone: alias for alias, zone in TIMEZONE_ALIASES.items()}.get(name, name)

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """The opening intervals of a date (special day, holiday or weekly schedule)."""
        special = self._special_by_date.get(day)
        if special is not None:
            return special.intervals
        if day in self._holiday_by_date:
            return ()
        return self.weekly[day.weekday()]

    def upcoming_days(self, start: date, limit: int | None = None) -> tuple[DatedDay, ...]:
        """The holidays and special days on or after `start`, by date.

        Args:
            start: The first date to list (usually today in the schedule's zone).
            limit: At most this many dates; None lists them all.

        Raises:
            ValueError: `limit` is negative.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        dates = sorted(d for d in {*self._holiday_by_date, *self._special_by_date} if d >= start)
        return tuple(
            DatedDay(
                day,
                self.intervals_on(day),
                self._holiday_by_date.get(day, ""),
                self._special_by_date.get(day),
            )
            for day in dates[:limit]
        )

    def is_open(self, at: datetime) -> bool:
        """Whether the office is open at an instant.

        Args:
            at: A timezone-aware datetime (any zone; it is converted to the schedule's).

        Raises:
            ValueError: `at` is naive.
        """
        return self._interval_at(self._local(at)) is not None

    def holiday(self, at: datetime) -> str | None:
        """The name of the holiday on the date of `at` (in the schedule's zone), or None."""
        return self._holiday_by_date.get(self._local(at).date())

    def next_opening(self, at: datetime) -> datetime | None:
        """The first instant at or after `at` when the office is open.

        Returns `at` itself (in the schedule's zone) when the office is open then, else the start
        of the next interval, or None when the office does not open within `SEARCH_DAYS` days.

        Raises:
            ValueError: `at` is naive.
        """
        local = self._local(at)
        if self._interval_at(local) is not None:
            return local
        instant = local.astimezone(timezone.utc)
        for offset in range(SEARCH_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            # Both folds: a start in the repeated hour of a DST change happens twice. Keyed by
            # UTC, as datetimes in one zone compare by wall time and ignore the fold.
            starts = {
                start.astimezone(timezone.utc): start
                for interval in self.intervals_on(day)
                for start in (self._wall(day, interval.start, fold) for fold in (0, 1))
            }
            for utc_start in sorted(starts):
                if utc_start > instant and self.is_open(starts[utc_start]):
                    return starts[utc_start]
        return None

    def closing_time(self, at: datetime) -> datetime | None:
        """When the office closes again, if it is open at `at`.

        Intervals that touch across midnight count as one opening. Returns None when the office
        is closed at `at` (or does not close within `SEARCH_DAYS` days).

        Raises:
            ValueError: `at` is naive.
        """
        local = self._local(at)
        interval = self._interval_at(local)
        for _ in range(SEARCH_DAYS + 1):
            if interval is None:
                return None
            end = self._wall(local.date(), interval.end, local.fold)
            if not self.is_open(end):
                return end
            local, interval = end, self._interval_at(end)
        return None

    def describe(self) -> str:
        """The weekly hours in Indonesian, for citizens.

        Consecutive days with the same hours are grouped and closed days left out, e.g.
        "Senin-Kamis 08.00-16.00 WITA, Jumat 08.00-11.30 WITA".
        """
        groups: list[tuple[int, int, tuple[Interval, ...]]] = []
        for index, intervals in enumerate(self.weekly):
            if groups and groups[-1][2] == intervals:
                groups[-1] = (groups[-1][0], index, intervals)
            else:
                groups.append((index, index, intervals))
        parts = []
        for first, last, intervals in groups:
            if not intervals:
                continue
            days = DAYS_ID[first] if first == last else f"{DAYS_ID[first]}-{DAYS_ID[last]}"
            hours = " dan ".join(interval.label for interval in intervals)
            parts.append(f"{days} {hours} {self.zone_label}")
        return ", ".join(parts) if parts else "tutup setiap hari"

    def format_next_opening(self, at: datetime) -> str:
        """The next opening in Indonesian, e.g. "Senin, 23 November 2026 pukul 08.00 WITA".

        Returns an empty string when the office does not open within `SEARCH_DAYS` days.

        Raises:
            ValueError: `at` is naive.
        """
        opening = self.next_opening(at)
        if opening is None:
            return ""
        return f"{DAYS_ID[opening.weekday()]}, {format_datetime_id(opening)}"

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"office hours need a timezone-aware datetime, got {at!r}")
        return at.astimezone(self.tz)

    def _interval_at(self, local: datetime) -> Interval | None:
        moment = local.time()
        return next((i for i in self.intervals_on(local.date()) if i.contains(moment)), None)

    def _wall(self, day: date, minutes: int, fold: int = 0) -> datetime:
        """The instant a wall-clock time of a date happens (times skipped by DST move on)."""
        naive = datetime.combine(day, time()) + timedelta(minutes=minutes)
        aware = naive.replace(tzinfo=self.tz, fold=fold)
        return aware.astimezone(timezone.utc).astimezone(self.tz)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}.{minutes % 60:02d}"


def _normalise(intervals: Iterable[Interval], where: str) -> tuple[Interval, ...]:
    """Sort intervals, refuse overlaps and merge intervals that touch (12:00-13:00, 13:00-...)."""
    merged: list[Interval] = []
    for interval in sorted(intervals):
        if merged and interval.start < merged[-1].end:
            raise OfficeHoursError(
                f"{where}: intervals {merged[-1].label} and {interval.label} overlap"
            )
        if merged and interval.start == merged[-1].end:
            merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return tuple(merged)
